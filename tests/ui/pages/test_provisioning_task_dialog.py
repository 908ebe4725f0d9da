"""Create Task through its widgets, against the instance's own catalog and key rules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.domain.chips import ChipType
from app.domain.errors import ValidationError
from app.domain.kinds import BootloaderKind, IefKind, ImageKind, KeyType
from app.domain.run_options import DEFAULT_ENROL_WAIT_S, TaskRunOptions
from app.instance.local.instance import LocalInstance
from app.ui.pages.provisioning_task_dialog import AUTO_RATE_LABEL, NO_WAIT_LABEL, CreateTaskDialog
from tests.ui.pool_drain import drain_pool


@pytest.fixture
def dialog(qtbot: QtBot, instance: LocalInstance) -> Iterator[CreateTaskDialog]:
    instance.create_signing_key("lab-ecdsa", KeyType.ECDSA_P256)
    instance.create_signing_key("production", KeyType.RSA_3072)
    task = CreateTaskDialog(None, instance)
    qtbot.addWidget(task)
    task.show()
    qtbot.waitUntil(lambda: task.keys_loaded and bool(task.images), timeout=10_000)
    yield task
    drain_pool()


def choose(combo, data: object) -> None:  # type: ignore[no-untyped-def]
    index = combo.findData(data)
    assert index >= 0, f"{data!r} is not offered"
    combo.setCurrentIndex(index)


def submit(qtbot: QtBot, dialog: CreateTaskDialog) -> None:
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=10_000)


def test_images_default_to_the_newest_matching_catalog_image(dialog: CreateTaskDialog) -> None:
    choose(dialog.device_type, ChipType.ESP32C3)
    choose(dialog.bootloader, BootloaderKind.RELEASE)
    choose(dialog.ief, IefKind.NON_DEBUG)
    assert dialog.bootloader_image.currentText() == "sim-esp32c3-bootloader-release  (newest)"
    assert dialog.partition_table_image.currentText() == "sim-esp32c3-partition-table  (newest)"
    assert dialog.ief_image.currentText() == "sim-esp32c3-ief-non-debug  (newest)"
    assert dialog.bootloader_image.currentData() is None, "the newest is the instance's own default"


def test_the_rsa_key_is_preselected(dialog: CreateTaskDialog) -> None:
    assert dialog.signing_key.currentData() == "production"


def test_create_a_task(qtbot: QtBot, dialog: CreateTaskDialog, instance: LocalInstance) -> None:
    dialog.name.setText("c3-lab")
    choose(dialog.device_type, ChipType.ESP32C3)
    choose(dialog.ief, IefKind.DEBUG)
    with qtbot.waitSignal(dialog.created, timeout=10_000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    task = instance.get_task("c3-lab")
    assert (task.device_type, task.bootloader, task.ief, task.signing_key) == (
        ChipType.ESP32C3,
        BootloaderKind.DEV,
        IefKind.DEBUG,
        "production",
    )
    assert task.ief_image == "sim-esp32c3-ief-debug"


def test_a_new_task_waits_for_enrolment_and_flashes_by_usb_bridge(dialog: CreateTaskDialog) -> None:
    assert dialog.enrol_wait.value() == DEFAULT_ENROL_WAIT_S
    assert dialog.flash_baud.currentData() is None
    assert dialog.flash_baud.currentText() == AUTO_RATE_LABEL


def test_run_options_are_saved_with_the_task_and_shown_when_it_is_edited(
    qtbot: QtBot, dialog: CreateTaskDialog, instance: LocalInstance
) -> None:
    dialog.name.setText("c3-slow-bridge")
    choose(dialog.device_type, ChipType.ESP32C3)
    dialog.enrol_wait.setValue(25)
    choose(dialog.flash_baud, 460800)
    with qtbot.waitSignal(dialog.created, timeout=10_000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    task = instance.get_task("c3-slow-bridge")
    assert task.run_options == TaskRunOptions(enrol_wait_s=25, flash_baud=460800)

    editor = CreateTaskDialog(None, instance, task=task)
    qtbot.addWidget(editor)
    assert (editor.enrol_wait.value(), editor.flash_baud.currentData()) == (25, 460800)
    editor.enrol_wait.setValue(0)
    assert editor.enrol_wait.text() == NO_WAIT_LABEL, "0 reads as 'off', not as a zero-second wait"
    choose(editor.flash_baud, None)
    qtbot.waitUntil(lambda: editor.keys_loaded and bool(editor.images), timeout=10_000)
    with qtbot.waitSignal(editor.created, timeout=10_000):
        qtbot.mouseClick(editor.ok_button, Qt.MouseButton.LeftButton)
    assert instance.get_task("c3-slow-bridge").run_options == TaskRunOptions(enrol_wait_s=0, flash_baud=None)


def test_keys_the_chip_cannot_verify_are_not_offered_and_the_dialog_says_why(
    qtbot: QtBot, dialog: CreateTaskDialog, instance: LocalInstance
) -> None:
    choose(dialog.device_type, ChipType.ESP32S3)
    offered = [dialog.signing_key.itemData(i) for i in range(dialog.signing_key.count())]
    assert offered == ["production"], "an ECDSA key is offered to a chip whose Secure Boot V2 is RSA only"
    assert dialog.key_note.isVisible()
    assert "lab-ecdsa (ECDSA P-256)" in dialog.key_note.text()
    assert "ESP32-S3 Secure Boot V2 verifies RSA-3072 keys only" in dialog.key_note.text()
    with pytest.raises(ValidationError) as refused:  # the instance's own rule, which the list follows
        instance.create_task("s3-ecdsa", ChipType.ESP32S3, BootloaderKind.DEV, IefKind.DEBUG, "lab-ecdsa")
    assert "rsa-3072 signatures only" in str(refused.value)


def test_the_device_type_starts_at_the_chip_plugged_in(qtbot: QtBot, instance: LocalInstance) -> None:
    task = CreateTaskDialog(None, instance, (ChipType.ESP32C3, ChipType.ESP32C3, ChipType.ESP32))
    qtbot.addWidget(task)
    assert task.device_type.currentData() is ChipType.ESP32C3, "ESP32 offered with ESP32-C3 boards attached"
    assert "2 × ESP32-C3, 1 × ESP32" in task.device_note.text()
    drain_pool()
    nothing = CreateTaskDialog(None, instance)
    qtbot.addWidget(nothing)
    assert nothing.device_type.currentData() is ChipType.ESP32 and not nothing.device_note.text()
    drain_pool()


def test_an_image_chosen_by_name_is_used(
    qtbot: QtBot, dialog: CreateTaskDialog, instance: LocalInstance
) -> None:
    newer = instance.list_images(device_type=ChipType.ESP32)
    sim_ief = next(i for i in newer.items if i.kind is ImageKind.IEF and i.variant == "debug")
    dialog.name.setText("named-images")
    assert dialog.ief_image.count() == 1
    assert dialog.ief_image.itemText(0).startswith(sim_ief.name)
    with qtbot.waitSignal(dialog.created, timeout=10_000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert instance.get_task("named-images").ief_image == sim_ief.name


def test_create_new_key_from_the_task_dialog_selects_it(
    qtbot: QtBot, dialog: CreateTaskDialog, instance: LocalInstance
) -> None:
    key_dialog = dialog.open_key_dialog()
    key_dialog.name.setText("fresh-rsa")
    with qtbot.waitSignal(key_dialog.created, timeout=30_000):
        qtbot.mouseClick(key_dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.signing_key.currentData() == "fresh-rsa", timeout=10_000)
    assert instance.get_signing_key("fresh-rsa").key_type is KeyType.RSA_3072


def test_no_name_no_call(qtbot: QtBot, dialog: CreateTaskDialog) -> None:
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.problem.text() == "task name cannot be empty"
    assert not dialog.busy
