"""The Users page: create, change role, delete (with a confirmation), and the instance's refusals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QMessageBox
from pytestqt.qtbot import QtBot

from app.domain.kinds import Role
from app.instance.local.instance import LocalInstance
from app.ui.main_window import MainWindow
from app.ui.pages.users import UsersPage
from tests.ui.pool_drain import drain_pool


@pytest.fixture
def page(qtbot: QtBot, window: MainWindow, instance: LocalInstance) -> Iterator[UsersPage]:
    instance.create_user("alice", "alice-password-1", Role.ADMINISTRATOR)
    users = window.page("Users")
    assert isinstance(users, UsersPage)
    with qtbot.waitSignal(users.model.modelReset, timeout=10_000):
        window.show_page("Users")
    yield users
    drain_pool()


def usernames(page: UsersPage) -> list[str]:
    return [page.proxy.index(r, 0).data() for r in range(page.proxy.rowCount())]


def create_user(qtbot: QtBot, page: UsersPage, name: str, password: str, repeat: str | None = None):  # type: ignore[no-untyped-def]
    dialog = page.open_create_dialog()
    dialog.username.setText(name)
    dialog.password.setText(password)
    dialog.repeat.setText(password if repeat is None else repeat)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=10_000)
    return dialog


def test_create_a_user_with_masked_passwords(qtbot: QtBot, page: UsersPage, instance: LocalInstance) -> None:
    dialog = page.open_create_dialog()
    assert dialog.password.echoMode() is QLineEdit.EchoMode.Password
    assert dialog.repeat.echoMode() is QLineEdit.EchoMode.Password
    dialog.reject()
    with qtbot.waitSignal(page.model.modelReset, timeout=10_000):
        create_user(qtbot, page, "bob", "bob-password-1")
    assert usernames(page) == ["alice", "bob"]
    assert instance.authenticate("bob", "bob-password-1").role is Role.CONTRIBUTOR


def test_passwords_that_differ_are_refused_before_any_call(
    qtbot: QtBot, page: UsersPage, instance: LocalInstance
) -> None:
    dialog = create_user(qtbot, page, "bob", "bob-password-1", repeat="bob-password-2")
    assert dialog.problem.text() == "The two passwords differ."
    assert instance.list_users().total == 1


def test_the_instance_rules_are_shown_inline(qtbot: QtBot, page: UsersPage) -> None:
    dialog = create_user(qtbot, page, "bob", "short")
    assert "the password is too short: at least 8 characters are needed, it has 5" in dialog.problem.text()
    assert "short" not in dialog.problem.text().replace("too short", "")
    dialog.username.setText("bad name!")
    dialog.password.setText("long-enough-1")
    dialog.repeat.setText("long-enough-1")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=10_000)
    assert "may contain only letters, digits" in dialog.problem.text()


def test_every_problem_is_shown_at_once_and_goes_when_fixed(
    qtbot: QtBot, page: UsersPage, instance: LocalInstance
) -> None:
    dialog = create_user(qtbot, page, "bad name!", "short", repeat="other")
    texts = dialog.problem_texts()
    assert len(texts) == 3, texts
    assert "may contain only letters, digits" in texts[0]
    assert "too short" in texts[1]
    assert texts[2] == "The two passwords differ."
    for text in texts:
        assert text in dialog.problem.text()
    qtbot.keyClicks(dialog.username, "x")  # still bad, but the person is on it
    dialog.username.clear()
    qtbot.keyClicks(dialog.username, "bob")
    assert len(dialog.problem_texts()) == 2 and "letters" not in dialog.problem.text()
    qtbot.keyClicks(dialog.password, "-and-longer")
    qtbot.keyClicks(dialog.repeat, "x")
    assert not dialog.problem.isVisible(), "problems stay after their fields were edited"
    assert instance.list_users().total == 1


def test_change_role(qtbot: QtBot, page: UsersPage, instance: LocalInstance) -> None:
    instance.create_user("bob", "bob-password-1", Role.CONTRIBUTOR)
    with qtbot.waitSignal(page.model.modelReset, timeout=10_000):
        page.refresh()
    assert page.select_user("bob")
    assert page.role_button.isEnabled()
    make_admin = next(a for a in page.role_menu.actions() if a.text() == "Make administrator")
    with qtbot.waitSignal(page.model.modelReset, timeout=10_000):
        make_admin.trigger()
    assert instance.list_users().items[1].role is Role.ADMINISTRATOR
    assert page.selected_user() is not None and page.selected_user().role is Role.ADMINISTRATOR  # type: ignore[union-attr]


def test_delete_asks_first(qtbot: QtBot, page: UsersPage, instance: LocalInstance) -> None:
    instance.create_user("bob", "bob-password-1", Role.CONTRIBUTOR)
    with qtbot.waitSignal(page.model.modelReset, timeout=10_000):
        page.refresh()
    page.select_user("bob")
    box = page.confirm_delete()
    assert box is not None and "'bob'" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert [u.username for u in instance.list_users().items] == ["alice", "bob"]
    box = page.confirm_delete()
    assert box is not None
    with qtbot.waitSignal(page.model.modelReset, timeout=10_000):
        box.button(QMessageBox.StandardButton.Yes).click()
    assert usernames(page) == ["alice"]


def test_deleting_the_last_administrator_is_refused_in_the_error_sink(
    qtbot: QtBot, page: UsersPage, window: MainWindow, instance: LocalInstance
) -> None:
    page.select_user("alice")
    box = page.confirm_delete()
    assert box is not None
    box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: window.error_banner.isVisible(), timeout=10_000)
    assert "'alice' is the last administrator and cannot be deleted" in window.error_banner.message()
    assert instance.list_users().total == 1
