"""Start provisioning: WiFi credentials (masked, optionally in the keyring), batch and task."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, IefKind, KeyType
from app.instance.local.instance import LocalInstance
from app.provisioning.run_request import RunRequest
from app.system.keyring_store import KeyringStore
from app.ui.pages.provisioning_request import wifi_account
from app.ui.pages.provisioning_start_dialog import StartProvisioningDialog
from tests.ui.pool_drain import drain_pool

PASSWORD = "correct-horse-battery"


@pytest.fixture
def ready(instance: LocalInstance) -> LocalInstance:
    instance.create_signing_key("production", KeyType.RSA_3072)
    instance.create_task("c3-dev", ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, "production")
    instance.create_task("s3-dev", ChipType.ESP32S3, BootloaderKind.DEV, IefKind.DEBUG, "production")
    instance.create_batch("line-1")
    instance.create_batch("line-2")
    return instance


def open_dialog(qtbot: QtBot, instance: LocalInstance, **wanted: str) -> StartProvisioningDialog:
    dialog = StartProvisioningDialog(None, instance, KeyringStore(), **wanted)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.loaded == 2, timeout=10_000)
    return dialog


@pytest.fixture
def dialog(qtbot: QtBot, ready: LocalInstance) -> Iterator[StartProvisioningDialog]:
    yield open_dialog(qtbot, ready, task="s3-dev")
    drain_pool()


def accept(qtbot: QtBot, dialog: StartProvisioningDialog) -> RunRequest:
    with qtbot.waitSignal(dialog.requested, timeout=10_000) as requested:
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    request = requested.args[0]
    assert isinstance(request, RunRequest)
    return request


def test_the_request_carries_the_choices_and_masks_the_password(
    qtbot: QtBot, dialog: StartProvisioningDialog
) -> None:
    assert dialog.password.echoMode() is QLineEdit.EchoMode.Password
    assert dialog.task.currentData() == "s3-dev", "the task selected on the page is preselected"
    qtbot.keyClicks(dialog.ssid, "lab-wifi")
    qtbot.keyClicks(dialog.password, PASSWORD)
    dialog.batch.setCurrentIndex(dialog.batch.findData("line-2"))
    request = accept(qtbot, dialog)
    assert request == RunRequest("s3-dev", "line-2", "lab-wifi", PASSWORD)
    assert PASSWORD not in repr(request) and PASSWORD not in str(request)
    assert "********" in repr(request)
    assert KeyringStore().get(wifi_account("lab-wifi")) is None


def test_remember_keeps_the_password_in_the_keyring_only(
    qtbot: QtBot, dialog: StartProvisioningDialog, ready: LocalInstance
) -> None:
    qtbot.keyClicks(dialog.ssid, "factory-wifi")
    qtbot.keyClicks(dialog.password, PASSWORD)
    dialog.remember.setChecked(True)
    request = accept(qtbot, dialog)
    assert request.password == PASSWORD
    assert KeyringStore().get(wifi_account("factory-wifi")) == PASSWORD
    assert all(PASSWORD not in e.details + e.target for e in ready.list_activity().items)

    again = open_dialog(qtbot, ready)
    qtbot.keyClicks(again.ssid, "factory-wifi")
    qtbot.waitUntil(lambda: again.password.text() == PASSWORD, timeout=10_000)
    assert again.remember.isChecked()
    qtbot.keyClicks(again.ssid, "-2")
    assert again.password.text() == "", "another network name must not keep the remembered password"
    assert not again.remember.isChecked()
    qtbot.keyClick(again.ssid, Qt.Key.Key_Backspace)
    qtbot.keyClick(again.ssid, Qt.Key.Key_Backspace)
    qtbot.waitUntil(lambda: again.password.text() == PASSWORD, timeout=10_000)
    again.remember.setChecked(False)
    assert accept(qtbot, again).password == PASSWORD
    assert KeyringStore().get(wifi_account("factory-wifi")) is None, "unticking forgets it"


def test_bad_wifi_values_are_refused_inline(qtbot: QtBot, dialog: StartProvisioningDialog) -> None:
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.problem.text() == "the WiFi network name (SSID) cannot be empty"
    dialog.ssid.setText("x" * 33)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert "longer than 32 bytes" in dialog.problem.text()
    assert dialog.request is None and dialog.isVisible()


def test_without_batches_the_dialog_says_what_to_do(qtbot: QtBot, instance: LocalInstance) -> None:
    dialog = open_dialog(qtbot, instance)
    assert dialog.batch.currentText() == "no batches: create one first"
    dialog.ssid.setText("lab-wifi")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.problem.text() == "Choose the batch the boards' DeviceIDs go into."
    drain_pool()


def test_without_a_keyring_remember_is_disabled(qtbot: QtBot, ready: LocalInstance, no_keyring: None) -> None:
    dialog = open_dialog(qtbot, ready)
    qtbot.waitUntil(lambda: not dialog.remember.isEnabled(), timeout=10_000)
    assert "No OS keyring" in dialog.remember.toolTip()
    drain_pool()
