"""The Provisioning page: tasks listed, created from the page, and a provisioning request emitted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from intelhex import IntelHex
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, IefKind, ImageKind, KeyType
from app.instance.local.instance import LocalInstance
from app.sim.images import build_sim_ief
from app.ui.main_window import MainWindow
from app.ui.pages.context import PageContext
from app.ui.pages.provisioning import ProvisioningPage
from app.ui.pages.station import StationPage
from tests.ui.pool_drain import drain_pool
from tests.ui.station_support import FleetFactory, wait_listed


@pytest.fixture
def page(qtbot: QtBot, context: PageContext, instance: LocalInstance) -> Iterator[ProvisioningPage]:
    instance.create_signing_key("production", KeyType.RSA_3072)
    instance.create_batch("line-1")
    provisioning = ProvisioningPage(context)
    qtbot.addWidget(provisioning)
    with qtbot.waitSignal(provisioning.model.modelReset, timeout=10_000):
        provisioning.show()
    yield provisioning
    drain_pool()


def test_create_a_task_from_the_page_and_start_with_it(
    qtbot: QtBot, page: ProvisioningPage, instance: LocalInstance
) -> None:
    assert page.count_label.text() == "0 tasks"
    dialog = page.open_create_dialog()
    qtbot.waitUntil(lambda: dialog.keys_loaded and bool(dialog.images), timeout=10_000)
    dialog.name.setText("esp32-lab")
    with qtbot.waitSignal(page.model.modelReset, timeout=10_000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert page.count_label.text() == "1 task"
    assert [page.proxy.index(0, c).data() for c in range(5)] == [
        "esp32-lab",
        "ESP32",
        "dev",
        "debug",
        "production",
    ]

    page.tasks.selectRow(0)
    start = page.open_start_dialog()
    qtbot.waitUntil(lambda: start.loaded == 2, timeout=10_000)
    assert start.task.currentData() == "esp32-lab"
    start.ssid.setText("lab-wifi")
    with qtbot.waitSignal(page.provisioning_requested, timeout=10_000) as requested:
        qtbot.mouseClick(start.ok_button, Qt.MouseButton.LeftButton)
    request = requested.args[0]
    assert (request.task, request.batch, request.ssid, request.password) == (
        "esp32-lab",
        "line-1",
        "lab-wifi",
        "",
    )
    assert page.last_request == request


def test_the_create_task_dialog_defaults_to_the_boards_plugged_in(
    qtbot: QtBot, window: MainWindow, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(2)  # virtual ESP32-C3 boards
    station = window.page("Station")
    assert isinstance(station, StationPage)
    wait_listed(qtbot, station, fleet.urls)
    provisioning = window.page("Provisioning")
    assert isinstance(provisioning, ProvisioningPage)
    window.show_page("Provisioning")
    dialog = provisioning.open_create_dialog()
    assert dialog.device_type.currentData() is ChipType.ESP32C3
    dialog.reject()
    drain_pool()


def _create(qtbot: QtBot, page: ProvisioningPage, instance: LocalInstance, name: str) -> None:
    instance.create_task(name, ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, "production")
    with qtbot.waitSignal(page.model.modelReset, timeout=10_000):
        page.refresh()
    assert page.select_task(name)


def test_edit_a_task_keeps_its_name_and_changes_what_it_flashes(
    qtbot: QtBot, page: ProvisioningPage, instance: LocalInstance
) -> None:
    assert not page.edit_button.isEnabled() and not page.delete_button.isEnabled()
    _create(qtbot, page, instance, "c3-lab")
    assert page.edit_button.isEnabled()
    dialog = page.open_edit_dialog()
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.keys_loaded and bool(dialog.images), timeout=10_000)
    assert dialog.windowTitle() == "Edit task c3-lab" and dialog.name.isReadOnly()
    assert (dialog.device_type.currentData(), dialog.ief.currentData()) == (ChipType.ESP32C3, IefKind.DEBUG)
    assert dialog.signing_key.currentData() == "production"
    dialog.ief.setCurrentIndex(dialog.ief.findData(IefKind.NON_DEBUG))
    with qtbot.waitSignal(page.model.modelReset, timeout=10_000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    task = instance.get_task("c3-lab")
    assert (task.ief, task.ief_image) == (IefKind.NON_DEBUG, "sim-esp32c3-ief-non-debug")
    assert instance.list_tasks().total == 1


def test_delete_a_task_after_a_question(
    qtbot: QtBot, page: ProvisioningPage, instance: LocalInstance
) -> None:
    _create(qtbot, page, instance, "old-task")
    box = page.confirm_delete()
    assert box is not None and "Delete the task 'old-task'?" in box.text()
    box.button(box.StandardButton.Cancel).click()
    drain_pool()
    assert instance.list_tasks().total == 1
    box = page.confirm_delete()
    assert box is not None
    with qtbot.waitSignal(page.model.modelReset, timeout=10_000):
        box.button(box.StandardButton.Yes).click()
    assert instance.list_tasks().total == 0 and page.count_label.text() == "0 tasks"


def test_import_an_intel_hex_image_and_a_bad_one(
    qtbot: QtBot, page: ProvisioningPage, instance: LocalInstance, tmp_path: Path
) -> None:
    data = build_sim_ief(ChipType.ESP32S3, IefKind.DEBUG)
    hexfile = IntelHex()
    hexfile.frombytes(data, offset=0x10000)
    good = tmp_path / "my-ief.hex"
    hexfile.write_hex_file(str(good))
    dialog = page.open_import_dialog()
    dialog.kind.setCurrentIndex(dialog.kind.findData(ImageKind.IEF))
    dialog.load_file(good)
    qtbot.waitUntil(lambda: dialog.loaded is not None, timeout=10_000)
    assert dialog.device_type.currentData() is ChipType.ESP32S3, "the image header names its chip"
    assert "its header says ESP32-S3" in dialog.file_label.text() and dialog.name.text() == "my-ief"
    with qtbot.waitSignal(dialog.imported, timeout=10_000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    image = next(i for i in instance.list_images(device_type=ChipType.ESP32S3).items if i.name == "my-ief")
    assert (image.kind, image.variant, image.size) == (ImageKind.IEF, "debug", len(data))

    bad = tmp_path / "bad.hex"
    bad.write_text(":10000000FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF01\n:00000001FF\n")
    again = page.open_import_dialog()
    again.load_file(bad)
    qtbot.waitUntil(lambda: again.problem.isVisible(), timeout=10_000)
    assert "bad Intel HEX" in again.problem.text()
    qtbot.mouseClick(again.ok_button, Qt.MouseButton.LeftButton)
    assert again.problem_texts()[0] == "Choose the image file first."
    again.reject()
