"""The Firmwares page: the catalog with how many devices run each firmware, the Upload dialog (file,
name, version, device type, attributes, key), assigning a firmware to a batch, and deleting one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from app.domain.chips import ChipType
from app.domain.kinds import IefKind, KeyType
from app.instance.local.instance import LocalInstance
from app.sim.images import build_sim_ief
from app.ui.main_window import MainWindow
from app.ui.pages.context import PageContext
from app.ui.pages.firmwares import FirmwaresPage
from app.ui.pages.firmwares_dialogs import UploadFirmwareDialog
from tests.ui.pool_drain import drain_pool


@pytest.fixture
def page(qtbot: QtBot, context: PageContext, instance: LocalInstance) -> Iterator[FirmwaresPage]:
    instance.create_signing_key("fw-key", KeyType.ECDSA_P256)
    firmwares = FirmwaresPage(context)
    qtbot.addWidget(firmwares)
    firmwares.resize(1200, 700)
    firmwares.show()
    qtbot.waitUntil(lambda: firmwares.listing is not None, timeout=10_000)
    yield firmwares
    drain_pool()


def _app(tmp_path: Path, chip: ChipType = ChipType.ESP32C3, version: str = "2.1.0") -> Path:
    path = tmp_path / f"app-{chip.value}-{version}.bin"
    path.write_bytes(build_sim_ief(chip, IefKind.NON_DEBUG, version=version))
    return path


def _open_upload(qtbot: QtBot, page: FirmwaresPage, file: Path) -> UploadFirmwareDialog:
    dialog = page.open_upload_dialog()
    qtbot.waitUntil(lambda: dialog.key.count() == 1, timeout=10_000)
    dialog.load_file(file)
    qtbot.waitUntil(lambda: dialog.loaded is not None, timeout=10_000)
    return dialog


def test_upload_signs_and_lists_the_firmware(qtbot: QtBot, page: FirmwaresPage, tmp_path: Path) -> None:
    dialog = _open_upload(qtbot, page, _app(tmp_path))
    assert dialog.device_type.currentData() is ChipType.ESP32C3, "the header's chip is chosen"
    assert dialog.name.text() == "app-esp32c3-2.1.0"
    dialog.version.setText("2.1.0")
    dialog.attributes.setText("hw=rev2, region=eu")
    with qtbot.waitSignal(page.model.modelReset, timeout=20_000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.firmware is not None and dialog.firmware.signing_key == "fw-key"
    assert [f.name for f in page.model.records()] == ["app-esp32c3-2.1.0"]
    shown = [page.model.index(0, c).data() for c in range(page.model.columnCount())]
    assert shown[:5] == ["app-esp32c3-2.1.0", "2.1.0", "ESP32-C3", "hw=rev2, region=eu", "0"]
    assert page.count_label.text() == "1 firmware, 0 devices running one"


def test_problems_are_shown_at_once_and_the_instance_refuses_another_chips_build(
    qtbot: QtBot, page: FirmwaresPage, instance: LocalInstance, tmp_path: Path
) -> None:
    dialog = _open_upload(qtbot, page, _app(tmp_path, ChipType.ESP32))
    dialog.version.setText("2.1 beta")
    dialog.attributes.setText("hw")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    texts = dialog.problem_texts()
    assert len(texts) == 2 and "letters, digits" in texts[0] and "KEY=VALUE" in texts[1]
    dialog.version.setText("2.1.0")
    dialog.attributes.setText("")
    dialog.device_type.setCurrentIndex(dialog.device_type.findData(ChipType.ESP32S3))
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.busy and bool(dialog.problem_texts()), timeout=10_000)
    assert "wrong chip: this firmware is built for ESP32 (esp32), not ESP32-S3" in dialog.problem.text()
    assert instance.list_firmwares().total == 0


def test_assign_to_a_batch_offers_only_batches_whose_filters_pass(
    qtbot: QtBot, page: FirmwaresPage, instance: LocalInstance, tmp_path: Path
) -> None:
    data = build_sim_ief(ChipType.ESP32, IefKind.NON_DEBUG, version="2.1.0")
    instance.upload_firmware("app", "2.1.0", ChipType.ESP32, [("hw", "rev2")], data, "fw-key")
    instance.create_batch("rev2-line", attribute_filters=[("hw", "rev2"), ("hw", "rev3")])
    instance.create_batch("rev1-line", attribute_filters=[("hw", "rev1")])
    with qtbot.waitSignal(page.model.modelReset, timeout=10_000):
        page.refresh()
    assert page.open_assign_dialog() is None, "nothing is selected yet"
    assert page.select_firmware("app")
    dialog = page.open_assign_dialog()
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.batch.count() == 1, timeout=10_000)
    assert dialog.batch.currentData() == "rev2-line"
    assert "rev1-line (hw=rev1)" in dialog.hidden.text()
    with qtbot.waitSignal(dialog.assigned, timeout=10_000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert instance.get_batch("rev2-line").firmware == "app"


def test_delete_asks_first_and_a_batch_in_use_refuses_it(
    qtbot: QtBot, page: FirmwaresPage, window: MainWindow, instance: LocalInstance
) -> None:
    data = build_sim_ief(ChipType.ESP32, IefKind.NON_DEBUG, version="2.1.0")
    instance.upload_firmware("app", "2.1.0", ChipType.ESP32, [], data, "fw-key")
    instance.create_batch("line")
    instance.set_batch_firmware("line", "app")
    with qtbot.waitSignal(page.model.modelReset, timeout=10_000):
        page.refresh()
    page.select_firmware("app")
    box = page.confirm_delete()
    assert box is not None and "'app' (version 2.1.0)" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert instance.list_firmwares().total == 1
    box = page.confirm_delete()
    assert box is not None
    page.error.connect(window.show_error)
    box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: window.error_banner.isVisible(), timeout=10_000)
    assert "batch 'line' update their devices to it" in window.error_banner.message()
    instance.set_batch_firmware("line", None)
    box = page.confirm_delete()
    assert box is not None
    with qtbot.waitSignal(page.model.modelReset, timeout=10_000):
        box.button(QMessageBox.StandardButton.Yes).click()
    assert page.model.records() == [] and instance.list_firmwares().total == 0
