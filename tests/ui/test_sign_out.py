"""Signing out from the window, so a shared line station changes operator without a restart: the session
ends on the instance, a kept sign-in leaves the keyring, the sign-in dialog asks who is next, and the
next window acts as that person; with boards running, the window asks first.

Real parts: a built-in instance in a temporary data folder with two users, the test keyring, real
windows and pages on the real event loop and thread pool. Only the sign-in dialog's answer is given
by the test (the dialog itself is tested in test_sign_in.py).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.domain.kinds import Role
from app.instance.api import Instance
from app.instance.local.instance import LocalInstance
from app.instance.local.sessions import LocalSessions
from app.instance.station_access import StationAccess
from app.sim.faults import Faults, Stage
from app.system.keyring_store import KeyringStore
from app.system.paths import DataDir
from app.ui.application import SIGN_IN, open_for_window
from app.ui.main_window import QUIT_KEYS, MainWindow
from app.ui.pages.context import PageContext
from app.ui.pages.station import StationPage
from app.ui.sign_in_dialog import SignedIn
from app.ui.window_sessions import WindowSessions
from app.workers.log_relay import LogRelay
from tests.ui.station_support import WAIT_MS, FleetFactory, request_for, tile, wait_listed

ALICE, BOB = "alice-long-password", "bob-long-password"


@pytest.fixture
def access(tmp_path: Path) -> StationAccess:
    data = DataDir(tmp_path / "station").ensure()
    with socket.socket() as probe:  # the window's enrolment service must not take a port another test uses
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with LocalInstance.open(data.local_instance_db) as station:
        station.create_user("alice", ALICE, Role.ADMINISTRATOR)
        station.create_user("bob", BOB, Role.CONTRIBUTOR)
        station.set_instance_params("localhost", port)
    return StationAccess(data, KeyringStore())


class Line:
    """WindowSessions with the sign-in dialog's answers queued by the test."""

    def __init__(
        self, qapp: QApplication, access: StationAccess, make_context: Callable[[Instance], PageContext]
    ):
        self.answers: list[SignedIn | None] = []
        self.asked = 0
        self.ended = 0
        self.windows = WindowSessions(
            qapp,
            access,
            lambda signed: make_context(signed.instance),
            self._ask,
            data_dir=access.data_dir.root,
            end=self._end,
        )

    def _end(self) -> None:
        self.ended += 1

    def _ask(self) -> SignedIn | None:
        self.asked += 1
        return self.answers.pop(0)


@pytest.fixture
def line(
    qapp: QApplication, access: StationAccess, make_context: Callable[[Instance], PageContext]
) -> Iterator[Line]:
    made = Line(qapp, access, make_context)
    yield made
    made.windows.shut_down(LogRelay())
    qapp.setQuitOnLastWindowClosed(True)


def _sign_in(access: StationAccess, user: str, password: str, *, keep: bool) -> SignedIn:
    instance, token = access.sign_in(user, password, keep=keep)
    return SignedIn(instance, instance.info(), "" if keep else token, kept=keep)


def test_signing_out_forgets_the_kept_sign_in_and_opens_the_next_persons_window(
    qtbot: QtBot, access: StationAccess, line: Line
) -> None:
    first = line.windows.open(_sign_in(access, "alice", ALICE, keep=True))
    assert first.sign_out_button.isVisible()
    assert access.keeper.get() is not None
    line.answers.append(_sign_in(access, "bob", BOB, keep=False))

    qtbot.mouseClick(first.sign_out_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: len(line.windows.windows) == 1 and line.windows.windows[0] is not first, timeout=WAIT_MS
    )

    second = line.windows.windows[0]
    assert not first.isVisible()
    assert second.isVisible() and second.user_label.text() == "Signed in as bob (contributor)"
    assert (line.asked, line.ended) == (1, 0)
    assert access.keeper.get() is None, "alice's kept sign-in left the keyring"
    assert open_for_window(access, demo=False).needs == SIGN_IN, "the next start asks who signs in"
    assert [s.info.actor for s in line.windows.live_sessions()] == ["bob"]


def test_signing_out_revokes_the_session_and_cancelling_the_next_sign_in_ends_the_program(
    qtbot: QtBot, qapp: QApplication, access: StationAccess, line: Line
) -> None:
    signed = _sign_in(access, "bob", BOB, keep=False)
    window = line.windows.open(signed)
    with LocalSessions.beside(access.data_dir.local_instance_db) as sessions:
        assert sessions.user_of(signed.token) == "bob"
    line.answers.append(None)  # nobody signs in next

    window.sign_out()
    qtbot.waitUntil(lambda: line.ended == 1, timeout=WAIT_MS)

    with LocalSessions.beside(access.data_dir.local_instance_db) as sessions:
        assert sessions.user_of(signed.token) is None, "the token no longer opens the instance"
    assert line.windows.windows == [] and line.windows.live_sessions() == []
    assert not window.isVisible()


def test_the_built_in_account_of_a_new_demo_has_no_session_to_end(qtbot: QtBot, window: MainWindow) -> None:
    assert window.user_label.text() == "No users yet: acting as the built-in station account"
    assert not window.sign_out_button.isVisible()


def test_signing_out_while_boards_run_asks_first_and_a_later_ctrl_q_quits(
    qtbot: QtBot, ready: LocalInstance, window: MainWindow, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(2, faults=[Faults(stall_at_stage=Stage.WIFI)] * 2)
    station = window.page("Station")
    assert isinstance(station, StationPage)
    window.offer_sign_out()
    window.show_page("Station")
    wait_listed(qtbot, station, fleet.urls)
    station.accept_provisioning_request(request_for(fleet))
    qtbot.mouseClick(station.start_button, Qt.MouseButton.LeftButton)
    for url in fleet.urls:
        qtbot.waitUntil(lambda u=url: tile(station, u).step.text().startswith("Enrolling"), timeout=WAIT_MS)
    signed_out: list[bool] = []
    window.signed_out.connect(lambda: signed_out.append(True))

    qtbot.mouseClick(window.sign_out_button, Qt.MouseButton.LeftButton)
    box = window.quit_box
    assert box is not None
    qtbot.waitUntil(box.isVisible, timeout=5_000)
    assert box.windowTitle() == "Sign out?"
    assert sorted(b.text() for b in box.buttons()) == ["Keep running", "Stop them and sign out"]
    keep = next(b for b in box.buttons() if b.text() == "Keep running")
    qtbot.mouseClick(keep, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not box.isVisible(), timeout=5_000)
    assert window.isVisible() and station.service.running and signed_out == []

    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    QTest.keySequence(window, QKeySequence(QUIT_KEYS))
    box = window.quit_box
    qtbot.waitUntil(box.isVisible, timeout=5_000)
    assert box.windowTitle() == "Quit the station?", "Ctrl+Q after a kept-running sign-out quits"
    stop = next(b for b in box.buttons() if b.text() == "Stop them and quit")
    qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)
    assert signed_out == [], "quitting is not signing out"
