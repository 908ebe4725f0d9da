"""The Policies page: its listing with terms and batch counts, and the Create, Edit and Delete dialogs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from app.domain.kinds import ConnectionType
from app.instance.local.instance import LocalInstance
from app.ui.main_window import MainWindow
from app.ui.pages.policies import PoliciesPage
from app.ui.pages.policies_dialog import DeletePolicyDialog, PolicyDialog
from tests.ui.pool_drain import drain_pool


@pytest.fixture
def page(qtbot: QtBot, window: MainWindow, instance: LocalInstance) -> Iterator[PoliciesPage]:
    instance.create_policy("factory", certificate_days=30, jwt_minutes=15)
    instance.create_batch("line-1", policy="factory")
    instance.create_batch("line-2", policy="factory")
    policies = window.page("Policies")
    assert isinstance(policies, PoliciesPage)
    with qtbot.waitSignal(policies.model.modelReset, timeout=10_000):
        window.show_page("Policies")
    yield policies
    drain_pool()


def rows(page: PoliciesPage) -> list[list[str]]:
    return [
        [page.proxy.index(r, c).data() for c in range(page.proxy.columnCount())][:6]
        for r in range(page.proxy.rowCount())
    ]


def submit(qtbot: QtBot, dialog: PolicyDialog | DeletePolicyDialog) -> None:
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=10_000)


def test_the_page_lists_terms_and_how_many_batches_use_each(page: PoliciesPage) -> None:
    assert rows(page) == [
        ["default", "None", "365 days", "yes", "60 min", "0"],
        ["factory", "None", "30 days", "yes", "15 min", "2"],
    ]
    assert page.count_label.text() == "2 policies"
    assert not page.edit_button.isEnabled() and not page.delete_button.isEnabled()


def test_create_a_policy(qtbot: QtBot, page: PoliciesPage, instance: LocalInstance) -> None:
    dialog = page.open_create_dialog()
    assert dialog.certificate_days.value() == 365 and dialog.auto_renew.isChecked()
    dialog.name.setText("lab")
    dialog.connection.setCurrentIndex(dialog.connection.findData(ConnectionType.DATABASE_DIRECT))
    dialog.certificate_days.setValue(7)
    dialog.auto_renew.setChecked(False)
    dialog.jwt_minutes.setValue(5)
    with qtbot.waitSignal(page.model.modelReset, timeout=10_000):
        submit(qtbot, dialog)
    created = instance.get_policy("lab")
    assert (created.connection, created.certificate_days, created.auto_renew, created.jwt_minutes) == (
        ConnectionType.DATABASE_DIRECT,
        7,
        False,
        5,
    )
    assert ["lab", "Database Direct", "7 days", "no", "5 min", "0"] in rows(page)
    selected = page.selected_policy()
    assert selected is not None and selected.name == "lab"


def test_a_taken_or_empty_name_is_said_in_the_dialog(
    qtbot: QtBot, page: PoliciesPage, instance: LocalInstance
) -> None:
    dialog = page.open_create_dialog()
    submit(qtbot, dialog)
    assert dialog.problem.text() == "policy name cannot be empty"
    dialog.name.setText("factory")
    submit(qtbot, dialog)
    assert dialog.problem.text() == "Creating the policy failed: a policy named 'factory' already exists"
    assert dialog.isVisible()
    assert instance.list_policies().total == 2


def test_edit_shows_the_terms_and_saves_them(
    qtbot: QtBot, page: PoliciesPage, instance: LocalInstance
) -> None:
    assert page.select_policy("factory")
    dialog = page.open_edit_dialog()
    assert dialog is not None
    assert dialog.name.text() == "factory" and dialog.name.isReadOnly()
    assert (dialog.certificate_days.value(), dialog.jwt_minutes.value()) == (30, 15)
    dialog.certificate_days.setValue(90)
    dialog.auto_renew.setChecked(False)
    with qtbot.waitSignal(page.model.modelReset, timeout=10_000):
        submit(qtbot, dialog)
    saved = instance.get_policy("factory")
    assert (saved.certificate_days, saved.auto_renew, saved.jwt_minutes) == (90, False, 15)
    assert ["factory", "None", "90 days", "no", "15 min", "2"] in rows(page)


def test_delete_is_refused_in_the_dialog_naming_the_batches(
    qtbot: QtBot, page: PoliciesPage, instance: LocalInstance
) -> None:
    page.select_policy("factory")
    dialog = page.open_delete_dialog()
    assert dialog is not None
    submit(qtbot, dialog)
    assert "batches 'line-1', 'line-2' use it" in dialog.problem.text()
    assert dialog.isVisible()
    assert instance.get_policy("factory").batches == 2


def test_delete_an_unused_policy(qtbot: QtBot, page: PoliciesPage, instance: LocalInstance) -> None:
    instance.create_policy("spare")
    with qtbot.waitSignal(page.model.modelReset, timeout=10_000):
        page.refresh()
    page.select_policy("spare")
    dialog = page.open_delete_dialog()
    assert dialog is not None
    assert any("Delete the policy 'spare'?" in label.text() for label in dialog.findChildren(QLabel))
    with qtbot.waitSignal(page.model.modelReset, timeout=10_000):
        submit(qtbot, dialog)
    assert [r[0] for r in rows(page)] == ["default", "factory"]
    assert not dialog.isVisible()


def test_the_default_policy_cannot_be_deleted(qtbot: QtBot, page: PoliciesPage) -> None:
    page.select_policy("default")
    dialog = page.open_delete_dialog()
    assert dialog is not None
    submit(qtbot, dialog)
    assert "'default' policy cannot be deleted" in dialog.problem.text()
