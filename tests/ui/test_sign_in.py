"""Signing in from the window: what start-up asks, the sign-in dialog and the first-administrator dialog.

Real parts throughout: a built-in instance in a temporary data folder, the test file keyring, the
dialogs driven with pytest-qt, and their instance calls on the real thread pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot

from app.domain.kinds import Role
from app.instance.station_access import BUILT_IN, StationAccess, has_users
from app.system.keyring_store import KeyringStore
from app.system.paths import DataDir
from app.ui.application import FIRST_ADMIN, READY, SIGN_IN, open_for_window
from app.ui.first_admin_dialog import FirstAdminDialog
from app.ui.main_window import user_text
from app.ui.settings import StationSettings
from app.ui.sign_in_dialog import SignedIn, SignInDialog, remember_username, remembered_username
from tests.ui.pool_drain import drain_pool

ALICE = "alice-long-password"


@pytest.fixture
def access(tmp_path: Path) -> StationAccess:
    return StationAccess(DataDir(tmp_path / "station"), KeyringStore())


@pytest.fixture
def opened() -> Iterator[list[SignedIn]]:
    """Instances the dialogs opened; closed at the end once no call is still using them."""
    results: list[SignedIn] = []
    yield results
    drain_pool()
    for result in results:
        result.instance.close()


def _with_alice(access: StationAccess) -> None:
    with access.open_local() as station:
        station.create_user("alice", ALICE, Role.ADMINISTRATOR)
        station.create_user("bob", "bob-long-password", Role.CONTRIBUTOR)


def _press_ok(qtbot: QtBot, dialog: SignInDialog | FirstAdminDialog) -> None:
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)


# --- what start-up asks --------------------------------------------------------------------------
def test_start_up_asks_for_an_administrator_then_a_sign_in_then_nothing(
    qapp: object, access: StationAccess, opened: list[SignedIn]
) -> None:
    first = open_for_window(access, demo=False)
    assert (first.needs, first.where, first.ready) == (FIRST_ADMIN, BUILT_IN, None)
    demo = open_for_window(access, demo=True)  # the demo opens at once, before any user exists
    assert demo.needs == READY and demo.ready is not None and demo.ready.info.actor == "station"
    opened.append(demo.ready)
    _with_alice(access)
    assert open_for_window(access, demo=True).needs == SIGN_IN  # with users, even the demo asks
    assert open_for_window(access, demo=False).needs == SIGN_IN
    instance, _token = access.sign_in("alice", ALICE, keep=True)
    instance.close()
    kept = open_for_window(access, demo=False)
    assert kept.needs == READY and kept.ready is not None and kept.ready.info.actor == "alice"
    opened.append(kept.ready)


def test_the_status_bar_names_who_acts(qapp: object, access: StationAccess, opened: list[SignedIn]) -> None:
    _with_alice(access)
    instance, _token = access.sign_in("bob", "bob-long-password", keep=False)
    opened.append(SignedIn(instance, instance.info(), "", False))
    assert user_text(instance.info()) == "Signed in as bob (contributor)"
    with access.open_local() as station:
        assert user_text(station.info()) == "No users yet: acting as the built-in station account"


# --- the sign-in dialog --------------------------------------------------------------------------
def test_sign_in_says_a_wrong_password_inline_then_signs_in_and_keeps_it(
    qtbot: QtBot, access: StationAccess, settings: StationSettings, opened: list[SignedIn]
) -> None:
    _with_alice(access)
    remember_username(settings, "alice")
    dialog = SignInDialog(None, access, BUILT_IN, settings)
    qtbot.addWidget(dialog)
    dialog.open()
    assert dialog.username.text() == "alice"  # remembered from last time
    assert "built-in instance" in dialog.findChild(type(dialog.problem), "hint").text()
    qtbot.keyClicks(dialog.password, "not-her-password")
    _press_ok(qtbot, dialog)
    qtbot.waitUntil(lambda: dialog.problem.isVisible() and not dialog.busy)
    assert dialog.problem.text() == "wrong username or password"
    assert dialog.isVisible() and dialog.result_ is None

    dialog.password.clear()
    qtbot.keyClicks(dialog.password, ALICE)
    dialog.keep.setChecked(True)
    _press_ok(qtbot, dialog)
    qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted)
    assert dialog.result_ is not None
    opened.append(dialog.result_)
    assert (dialog.result_.info.actor, dialog.result_.info.role) == ("alice", Role.ADMINISTRATOR)
    assert dialog.password.text() == ""  # not held in the widget afterwards
    kept = access.keeper.get()
    assert kept is not None and kept.username == "alice" and kept.token == dialog.result_.token


def test_an_unkept_sign_in_leaves_nothing_in_the_keyring_and_names_are_remembered(
    qtbot: QtBot, access: StationAccess, settings: StationSettings, opened: list[SignedIn]
) -> None:
    _with_alice(access)
    dialog = SignInDialog(None, access, BUILT_IN, settings)
    qtbot.addWidget(dialog)
    dialog.open()
    assert dialog.username.text() == "" and not dialog.keep.isChecked()
    _press_ok(qtbot, dialog)
    assert dialog.problem.text() == "Enter your user name and password."
    qtbot.keyClicks(dialog.username, "BOB")
    qtbot.keyClicks(dialog.password, "bob-long-password")
    _press_ok(qtbot, dialog)
    qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted)
    assert dialog.result_ is not None
    opened.append(dialog.result_)
    assert dialog.result_.info.actor == "bob" and not dialog.result_.kept
    assert access.keeper.get() is None
    assert remembered_username(settings) == "bob"  # the stored spelling, never the password
    assert "bob-long-password" not in Path(settings.store.fileName()).read_text()


@pytest.mark.usefixtures("no_keyring")
def test_without_a_keyring_keeping_is_not_offered(
    qtbot: QtBot, tmp_path: Path, settings: StationSettings
) -> None:
    access = StationAccess(DataDir(tmp_path / "station"), KeyringStore())
    dialog = SignInDialog(None, access, "https://instance:8443", settings)
    qtbot.addWidget(dialog)
    assert not dialog.keep.isEnabled() and "no OS keyring" in dialog.keep.toolTip()
    assert "the instance at https://instance:8443" in dialog.findChild(type(dialog.problem), "hint").text()


# --- the first administrator ---------------------------------------------------------------------
def test_first_admin_checks_the_password_then_creates_and_signs_in(
    qtbot: QtBot, access: StationAccess, settings: StationSettings, opened: list[SignedIn]
) -> None:
    dialog = FirstAdminDialog(None, access, settings)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.keyClicks(dialog.username, "line-admin")

    def attempt(password: str, repeat: str | None = None) -> str:
        dialog.password.setText(password)
        dialog.repeat.setText(password if repeat is None else repeat)
        _press_ok(qtbot, dialog)
        qtbot.waitUntil(lambda: not dialog.busy)
        return dialog.problem.text()

    assert attempt("line-admin-pw-1", "line-admin-pw-2") == "The two passwords differ."
    assert "too short" in attempt("short")
    assert "most common" in attempt("password123")
    assert "cannot be the user name" in attempt("Line-Admin")
    assert not access.local_has_users()  # nothing was created by a refused attempt
    attempt("a good line admin password")
    qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted)
    assert dialog.result_ is not None
    opened.append(dialog.result_)
    assert (dialog.result_.info.actor, dialog.result_.info.role) == ("line-admin", Role.ADMINISTRATOR)
    with access.open_local() as station:
        assert has_users(station)
    assert remembered_username(settings) == "line-admin"


def test_first_admin_is_refused_once_a_user_exists(
    qtbot: QtBot, access: StationAccess, settings: StationSettings
) -> None:
    dialog = FirstAdminDialog(None, access, settings)
    qtbot.addWidget(dialog)
    dialog.open()
    _with_alice(access)  # another station (or the CLI) got there first
    dialog.username.setText("mallory")
    dialog.password.setText("mallory-long-password")
    dialog.repeat.setText("mallory-long-password")
    _press_ok(qtbot, dialog)
    qtbot.waitUntil(lambda: not dialog.busy and dialog.problem.isVisible())
    assert "already has users" in dialog.problem.text()
    with access.open_local() as station:
        assert [u.username for u in station.list_users().items] == ["alice", "bob"]


def test_a_session_that_ended_is_said_as_such_not_as_a_role_problem() -> None:
    from app.domain.errors import PermissionDeniedError
    from app.instance.wire import NotSignedInError
    from app.ui.failure_text import failure_text
    from app.workers.background import CallFailure

    expired = CallFailure.of("Loading batches", NotSignedInError("the sign-in token is unknown, expired"))
    text = failure_text(expired, Role.CONTRIBUTOR)
    assert text.startswith("Loading batches failed: you are no longer signed in (the sign-in token is")
    assert "start it again to sign in" in text and "role" not in text
    denied = CallFailure.of("Creating a user", PermissionDeniedError("'bob' is a contributor"))
    assert "not allowed for your role (contributor)" in failure_text(denied, Role.CONTRIBUTOR)
