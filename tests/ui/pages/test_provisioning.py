"""The Provisioning page: tasks listed, created from the page, and a provisioning request emitted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.domain.chips import ChipType
from app.domain.kinds import KeyType
from app.instance.local.instance import LocalInstance
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
