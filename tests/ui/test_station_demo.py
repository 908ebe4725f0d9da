"""`ql-station gui --demo`: the demo data, the simulator subprocess, and one click for four boards."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, IefKind, ImageKind, KeyType
from app.domain.records import PageRequest
from app.instance.local.instance import LocalInstance
from app.provisioning.events import Outcome
from app.sim.partition_table import SIM_PARTITIONS, build_partition_table, parse_partition_table
from app.system.paths import DataDir
from app.system.sim_registry import list_live
from app.ui.demo import (
    DEMO_BATCH,
    DEMO_FIRMWARE,
    DEMO_KEY,
    DEMO_TASK,
    DemoSession,
    attach_demo,
    ensure_demo_data,
)
from app.ui.main_window import MainWindow
from app.ui.pages.context import PageContext
from app.ui.pages.station import StationPage
from app.workers.port_states import PortState
from tests.ui.pool_drain import drain_pool

WAIT_MS = 90_000


@pytest.fixture(autouse=True)
def _no_leaks(nothing_left_behind: None) -> None:
    """The demo's simulator process and the station's threads end with each test."""


@pytest.fixture
def production_mode_left_on(context: PageContext) -> None:
    """Production mode switched on before the window opens (the person left it on last time)."""
    context.settings.set_auto_start(True)


@pytest.fixture
def demo(window: MainWindow, instance: LocalInstance, context: PageContext) -> Iterator[DemoSession]:
    session = attach_demo(window, instance, context.data_dir)
    yield session
    window.close()  # the Station page stops first: its runs are cancelled and the boards reset
    session.stop()
    drain_pool()


def test_demo_data_is_created_once_and_kept(instance: LocalInstance) -> None:
    ensure_demo_data(instance)
    key = instance.get_signing_key(DEMO_KEY)
    ensure_demo_data(instance)
    assert instance.get_signing_key(DEMO_KEY) == key
    assert key.key_type is KeyType.RSA_3072
    task = instance.get_task(DEMO_TASK)
    assert (task.device_type, task.bootloader, task.ief) == (
        ChipType.ESP32C3,
        BootloaderKind.DEV,
        IefKind.DEBUG,
    )
    batch = instance.get_batch(DEMO_BATCH)
    assert batch.name == DEMO_BATCH and batch.firmware == DEMO_FIRMWARE
    firmware = instance.get_firmware(DEMO_FIRMWARE)
    assert (firmware.version, firmware.device_type, firmware.signing_key) == (
        "2.1.0",
        ChipType.ESP32C3,
        DEMO_KEY,
    )
    assert instance.list_firmwares().total == 1, "a second run uploads nothing again"


def test_a_demo_task_from_before_firmware_updates_gets_a_table_with_an_ota_slot(
    instance: LocalInstance,
) -> None:
    ensure_demo_data(instance)
    old_table = build_partition_table(tuple(p for p in SIM_PARTITIONS if p.name not in ("otadata", "ota_0")))
    instance.import_image("old-table", ChipType.ESP32C3, ImageKind.PARTITION_TABLE, "", old_table)
    task = instance.get_task(DEMO_TASK)
    instance.update_task(
        task.name, task.device_type, task.bootloader, task.ief, task.signing_key,
        task.bootloader_image, "old-table", task.ief_image,
    )  # fmt: skip
    ensure_demo_data(instance)
    table = instance.get_task(DEMO_TASK).partition_table_image
    assert table.startswith("sim-esp32c3-partition-table-ota-")
    flashed = next(i for i in instance.task_images(DEMO_TASK).images if i.kind is ImageKind.PARTITION_TABLE)
    assert {p.name for p in parse_partition_table(flashed.data)} >= {"otadata", "ota_0"}
    ensure_demo_data(instance)
    assert instance.get_task(DEMO_TASK).partition_table_image == table, "done once"


def test_the_demo_provisions_its_four_boards_with_one_click(
    qtbot: QtBot,
    window: MainWindow,
    demo: DemoSession,
    instance: LocalInstance,
    context: PageContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    qtbot.waitUntil(lambda: demo.result is not None, timeout=WAIT_MS)
    assert demo.result is not None
    network = demo.simulator.network
    assert network is not None and network.password
    process = demo.simulator.process
    assert process is not None and process.poll() is None, "the boards run in a child process"

    station = window.page("Station")
    assert isinstance(station, StationPage)
    assert window.current_page() is station
    qtbot.waitUntil(lambda: station.start_button.text() == "Provision 4 boards", timeout=WAIT_MS)

    dialog = station.open_start_dialog()
    qtbot.waitUntil(lambda: dialog.loaded == 2, timeout=WAIT_MS)
    assert dialog.ssid.text() == network.ssid
    assert dialog.password.text() == network.password
    assert dialog.password.echoMode() is QLineEdit.EchoMode.Password
    assert (dialog.task.currentData(), dialog.batch.currentData()) == (DEMO_TASK, DEMO_BATCH)
    dialog.reject()

    qtbot.mouseClick(station.start_button, Qt.MouseButton.LeftButton)  # the one click
    urls = demo.result.urls
    qtbot.waitUntil(lambda: all(u in station.grid.tiles for u in urls), timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: any(0 < station.grid.tiles[u].progress.value() < 1000 for u in urls), timeout=WAIT_MS
    )  # paced boards: progress is there to see
    qtbot.waitUntil(lambda: len(station.results) == 4, timeout=WAIT_MS)
    assert {r.outcome for r in station.results} == {Outcome.PASS}, [r.message for r in station.results]
    assert all(station.grid.tiles[u].state is PortState.PASS for u in urls)
    batch = {d.device_id for d in instance.list_devices(DEMO_BATCH, PageRequest(limit=100)).items}
    assert {r.device_id for r in station.results} == batch
    if demo.enrolment is not None and demo.enrolment.service is not None:  # not when port 6000 is taken
        qtbot.waitUntil(lambda: instance.get_batch(DEMO_BATCH).counts.enrolled == 4, timeout=30_000)
        # a PASS waited for the batch's firmware: each tile names the version the board now runs
        assert {station.grid.tiles[u].step.text() for u in urls} == {"Enrolled, firmware 2.1.0"}
        # the demo batch's firmware reaches all four: downloaded, verified, booted, reported
        qtbot.waitUntil(lambda: instance.get_firmware(DEMO_FIRMWARE).devices_running == 4, timeout=60_000)
        assert instance.get_batch(DEMO_BATCH).counts.enrolled == 4, (
            "checking in after the update renews nothing"
        )

    window.close()
    demo.stop()
    assert process.poll() is not None, "the simulator ends with the window"
    assert list_live(DataDir(context.data_dir).sim_registry) == []
    logged = [*caplog.messages, demo.simulator.log_path.read_text(encoding="utf-8")]
    assert all(network.password not in text for text in logged)


def test_in_production_mode_the_demo_needs_no_click(
    qtbot: QtBot,
    context: PageContext,
    instance: LocalInstance,
    production_mode_left_on: None,
    window: MainWindow,
) -> None:
    session = attach_demo(window, instance, context.data_dir)
    try:
        station = window.page("Station")
        assert isinstance(station, StationPage)
        qtbot.waitUntil(lambda: len(station.results) == 4, timeout=WAIT_MS)
        assert {r.outcome for r in station.results} == {Outcome.PASS}, [r.message for r in station.results]
        assert station.production_banner.isVisible()
        assert "PRODUCTION MODE —" in station.production_banner.text()
    finally:
        window.close()
        session.stop()
        drain_pool()
