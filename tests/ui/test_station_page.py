"""The Station page through its real widgets: a real local instance, virtual boards, real port workers.

Boards are simulated in this process (SimFleet, pacing off) and registered in the page's data folder,
so the page discovers them exactly as it discovers `ql-station sim` boards.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from app.domain.errors import ValidationError
from app.domain.records import PageRequest
from app.instance.local.instance import LocalInstance
from app.provisioning.events import Outcome
from app.provisioning.records import RecordsDB
from app.provisioning.run_request import RunRequest
from app.sim.faults import Faults, Stage
from app.system.paths import DataDir
from app.ui.main_window import MainWindow
from app.ui.pages.context import PageContext
from app.ui.pages.dashboard import DashboardPage
from app.ui.pages.provisioning import ProvisioningPage
from app.ui.pages.station import StationPage
from app.ui.pages.station_drawer import CONSOLE_TAB, LOG_TAB
from app.ui.pages.station_keys import START_ACTION, STOP_ACTION, set_action_key
from app.workers.background import CallFailure
from app.workers.port_states import PortState
from tests.provisioning.sim_boards import board_device_id
from tests.ui.station_support import (
    BATCH,
    RELEASE_TASK,
    TASK,
    WAIT_MS,
    FleetFactory,
    provision_one_to_pass,
    request_for,
    tile,
    wait_listed,
    wait_state,
)


@pytest.fixture(autouse=True)
def _no_leaks(nothing_left_behind: None) -> None:
    """No port worker and no Python thread (reader, simulator) outlives a test."""


def every_text(page: StationPage) -> list[str]:
    """Everything the page can show about its ports: tile labels and tooltips, buffers, drawer views."""
    texts: list[str] = []
    for port, lines in page.lines.items():
        texts += [*lines.log, *lines.console]
        for tab in (LOG_TAB, CONSOLE_TAB):
            page.show_drawer(port, tab)
            texts += [page.drawer.log_view.toPlainText(), page.drawer.console_view.toPlainText()]
    for port_tile in page.grid.tiles.values():
        texts += [label.text() for label in port_tile.findChildren(QLabel)]
        texts += [label.toolTip() for label in port_tile.findChildren(QLabel)]
        texts.append(port_tile.badge.text)
    return texts


def test_four_boards_from_the_station_page_into_the_batch_and_the_dashboard(
    qtbot: QtBot, ready: LocalInstance, window: MainWindow, make_fleet: FleetFactory
) -> None:
    dashboard = window.page("Dashboard")
    assert isinstance(dashboard, DashboardPage)
    qtbot.waitUntil(lambda: dashboard.summary is not None, timeout=WAIT_MS)
    before = dashboard.summary.devices.total  # type: ignore[union-attr]
    fleet = make_fleet(4)
    station = window.page("Station")
    assert isinstance(station, StationPage)
    window.show_page("Station")
    wait_listed(qtbot, station, fleet.urls)
    assert window.ports_label.text() == "ports: 4"
    assert station.port_list.checked() == fleet.urls, "virtual boards are ticked when they appear"

    qtbot.mouseClick(station.dialog_button, Qt.MouseButton.LeftButton)
    dialog = station.start_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.loaded == 2, timeout=WAIT_MS)
    qtbot.keyClicks(dialog.ssid, fleet.access_point.ssid)
    qtbot.keyClicks(dialog.password, fleet.access_point.password)
    dialog.task.setCurrentIndex(dialog.task.findData(TASK))
    dialog.batch.setCurrentIndex(dialog.batch.findData(BATCH))
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: station.request is not None, timeout=WAIT_MS)
    assert station.running_ports() == [], "Continue to ports must not start the ticked boards"
    qtbot.mouseClick(station.start_button, Qt.MouseButton.LeftButton)

    for url in fleet.urls:
        wait_state(qtbot, station, url, PortState.PASS)
    tiles = [tile(station, url) for url in fleet.urls]
    assert all(t.badge.text == "✓  PASS" for t in tiles)
    shown = {t.device_id for t in tiles}
    assert shown == {board_device_id(board) for board in fleet.boards}
    assert shown == {d.device_id for d in ready.list_devices(BATCH, PageRequest(limit=100)).items}
    qtbot.waitUntil(lambda: len(station.results) == 4, timeout=WAIT_MS)
    assert station.counters_row.passed.value.text() == "4"
    assert station.counters_row.failed.value.text() == "0"
    assert station.counters_row.rate.value.text() == "240", "4 boards within the first minute"
    assert {r.outcome for r in station.results} == {Outcome.PASS}

    tiles[0].copy_button.click()
    assert QGuiApplication.clipboard().text() == tiles[0].device_id

    qtbot.mouseClick(tiles[1].console_button, Qt.MouseButton.LeftButton)
    assert station.drawer.isVisible() and station.drawer.tabs.currentIndex() == CONSOLE_TAB
    assert "IEF" in station.drawer.console_view.toPlainText()
    qtbot.mouseClick(tiles[1].log_button, Qt.MouseButton.LeftButton)
    assert "RESULT PASS" in station.drawer.log_view.toPlainText()
    assert all(fleet.access_point.password not in text for text in every_text(station))

    window.show_page("Dashboard")
    qtbot.mouseClick(dashboard.refresh_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dashboard.summary.devices.total == before + 4, timeout=WAIT_MS)  # type: ignore[union-attr]
    assert f"{before + 4} devices in all" in dashboard.go_devices.toolTip()


def test_cancel_mid_flash_leaves_the_others_alone_and_retry_passes(
    qtbot: QtBot, page: StationPage, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(3, faults=[Faults(stall_at_stage=Stage.FLASH_DATA)])
    stalled, *others = fleet.urls
    wait_listed(qtbot, page, fleet.urls)
    page.accept_provisioning_request(request_for(fleet))
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    for url in others:
        wait_state(qtbot, page, url, PortState.PASS)
    qtbot.waitUntil(lambda: Stage.FLASH_DATA in fleet.boards[0].stages, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: tile(page, stalled).step.text().startswith("Flashing"), timeout=WAIT_MS)
    assert tile(page, stalled).state is PortState.RUNNING
    assert tile(page, stalled).cancel_button.isEnabled()

    qtbot.mouseClick(tile(page, stalled).cancel_button, Qt.MouseButton.LeftButton)
    wait_state(qtbot, page, stalled, PortState.CANCELLED)
    assert tile(page, stalled).badge.text == "■  CANCELLED"
    assert tile(page, stalled).step.text() == "Cancelled while flashing"
    assert all(tile(page, url).state is PortState.PASS for url in others)
    qtbot.waitUntil(lambda: len(page.results) == 3, timeout=WAIT_MS)
    assert page.counters_row.failed.detail.text() == "1 board cancelled (not counted)"

    qtbot.mouseClick(tile(page, stalled).retry_button, Qt.MouseButton.LeftButton)
    wait_state(qtbot, page, stalled, PortState.PASS)
    assert tile(page, stalled).device_id == board_device_id(fleet.boards[0])
    assert page.counters_row.passed.value.text() == "3"


def test_production_mode_provisions_a_newly_plugged_board_with_no_click(
    qtbot: QtBot, page: StationPage, make_fleet: FleetFactory, context: PageContext
) -> None:
    present = make_fleet(1, "early")
    wait_listed(qtbot, page, present.urls)
    page.accept_provisioning_request(request_for(present))
    qtbot.mouseClick(page.production_button, Qt.MouseButton.LeftButton)
    assert context.settings.auto_start
    qtbot.waitUntil(lambda: "PRODUCTION MODE —" in page.production_banner.text(), timeout=WAIT_MS)
    assert page.production_banner.isVisible()
    armed = request_for(present).confirmed(None, context.settings.default_baud)
    assert page.service.production == armed, "the page shows what the worker armed"

    late = make_fleet(1, "late", access_point=present.access_point)
    wait_state(qtbot, page, late.urls[0], PortState.PASS)
    assert tile(page, late.urls[0]).device_id == board_device_id(late.boards[0])
    assert tile(page, present.urls[0]).state is PortState.READY, "a board already there is not new"

    qtbot.mouseClick(page.production_button, Qt.MouseButton.LeftButton)
    assert not context.settings.auto_start and not page.production_banner.isVisible()
    qtbot.waitUntil(lambda: page.service.production is None, timeout=WAIT_MS)


def test_production_mode_the_worker_cannot_arm_is_switched_off(
    qtbot: QtBot, page: StationPage, context: PageContext
) -> None:
    """The worker refuses a request it cannot build a job for; the page does not claim it is armed."""
    errors: list[object] = []
    page.error.connect(errors.append)
    page.accept_provisioning_request(RunRequest(TASK, BATCH, "lab", "short"))
    qtbot.mouseClick(page.production_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not context.settings.auto_start, timeout=WAIT_MS)
    assert not page.production_banner.isVisible() and not page.production_button.isChecked()
    assert page.service.production is None
    [failure] = errors
    assert isinstance(failure, CallFailure) and isinstance(failure.error, ValidationError)
    assert failure.message.startswith("Production mode is off: a WPA2 WiFi password has 8 to 63")


def test_production_mode_without_a_task_says_what_is_missing(qtbot: QtBot, page: StationPage) -> None:
    qtbot.mouseClick(page.production_button, Qt.MouseButton.LeftButton)
    assert page.production_banner.isVisible()
    assert "no task is chosen" in page.production_banner.text()


def test_a_release_task_starts_only_with_the_batch_name_typed(
    qtbot: QtBot, page: StationPage, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1)
    wait_listed(qtbot, page, fleet.urls)
    page.accept_provisioning_request(request_for(fleet, RELEASE_TASK))
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: page.release_dialog is not None and page.release_dialog.isVisible(), timeout=WAIT_MS
    )
    dialog = page.release_dialog
    assert dialog is not None
    qtbot.keyClicks(dialog.typed, "line-2")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and "“line-2” is not the batch name" in dialog.problem.text()
    assert tile(page, fleet.urls[0]).state is PortState.READY

    dialog.typed.clear()
    qtbot.keyClicks(dialog.typed, BATCH)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    wait_state(qtbot, page, fleet.urls[0], PortState.PASS)
    assert fleet.boards[0].state.efuses.state.secure_boot_en, "the release bootloader burned real eFuses"


def test_a_start_with_nothing_ticked_says_so(
    qtbot: QtBot, page: StationPage, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1)
    wait_listed(qtbot, page, fleet.urls)
    page.accept_provisioning_request(request_for(fleet))
    qtbot.mouseClick(page.port_list.none_button, Qt.MouseButton.LeftButton)
    assert page.start_button.text() == "Provision 0 boards" and not page.start_button.isEnabled()
    with qtbot.waitSignal(page.status, timeout=WAIT_MS) as status:
        page.start_ticked()
    assert status.args == ["Tick the ports to provision first"]


def test_a_board_unplugged_after_its_run_keeps_its_tile_marked_unplugged(
    qtbot: QtBot, page: StationPage, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(2)
    wait_listed(qtbot, page, fleet.urls)
    page.accept_provisioning_request(request_for(fleet))
    page.port_list.set_checked(fleet.urls[:1])
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    wait_state(qtbot, page, fleet.urls[0], PortState.PASS)
    fleet.servers[0].unplug()
    fleet.servers[1].unplug()
    qtbot.waitUntil(lambda: fleet.urls[1] not in page.grid.tiles, timeout=WAIT_MS)
    assert "unplugged" in tile(page, fleet.urls[0]).badge.text
    assert not tile(page, fleet.urls[0]).retry_button.isEnabled()


def test_closing_the_page_cancels_what_runs_records_it_and_stops_the_station(
    qtbot: QtBot, page: StationPage, make_fleet: FleetFactory, context: PageContext
) -> None:
    fleet = make_fleet(1, faults=[Faults(stall_at_stage=Stage.WIFI)])
    wait_listed(qtbot, page, fleet.urls)
    page.accept_provisioning_request(request_for(fleet))
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tile(page, fleet.urls[0]).step.text().startswith("Enrolling"), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: Stage.WIFI in fleet.boards[0].stages, timeout=WAIT_MS)  # booted, now stalled
    boots = fleet.boards[0].stages.count(Stage.BOOT)
    page.close()
    assert page.service.station_thread.isFinished()
    # The station has sent the reset when close() returns; the board's own thread then boots again.
    qtbot.waitUntil(lambda: fleet.boards[0].stages.count(Stage.BOOT) > boots, timeout=WAIT_MS)
    with RecordsDB(DataDir(context.data_dir).records_db) as records:
        rows = records.list_records().items
    assert [(r.port, r.outcome) for r in rows] == [(fleet.urls[0], Outcome.CANCELLED)]
    assert "the station is closing" in rows[0].error


def test_a_request_from_the_provisioning_page_lands_on_the_station_page(
    qtbot: QtBot, ready: LocalInstance, window: MainWindow
) -> None:
    provisioning = window.page("Provisioning")
    assert isinstance(provisioning, ProvisioningPage)
    window.show_page("Provisioning")
    dialog = provisioning.open_start_dialog()
    qtbot.waitUntil(lambda: dialog.loaded == 2, timeout=WAIT_MS)
    qtbot.keyClicks(dialog.ssid, "line-wifi")
    qtbot.keyClicks(dialog.password, "line-wifi-password")
    dialog.task.setCurrentIndex(dialog.task.findData(TASK))
    dialog.batch.setCurrentIndex(dialog.batch.findData(BATCH))
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    station = window.page("Station")
    assert isinstance(station, StationPage)
    qtbot.waitUntil(lambda: window.current_page() is station, timeout=WAIT_MS)
    assert station.request == RunRequest(TASK, BATCH, "line-wifi", "line-wifi-password")
    assert station.request_label.text() == (
        f"Task “{TASK}” → batch “{BATCH}” · boards join WiFi “line-wifi” (password set)"
    )
    assert "line-wifi-password" not in station.request_label.text()
    assert station.results == [], "nothing starts before the person ticks ports and presses Provision"


def test_continue_to_ports_is_one_behaviour_on_both_pages(
    qtbot: QtBot, ready: LocalInstance, window: MainWindow, make_fleet: FleetFactory
) -> None:
    """From either page: the request lands on the Station page, nothing starts, and the next dialog
    (on either page) opens with the last network, batch and task filled in."""
    fleet = make_fleet(2)
    station = window.page("Station")
    provisioning = window.page("Provisioning")
    assert isinstance(station, StationPage) and isinstance(provisioning, ProvisioningPage)
    window.show_page("Station")
    wait_listed(qtbot, station, fleet.urls)
    assert station.port_list.checked() == fleet.urls

    dialog = station.open_start_dialog()
    qtbot.waitUntil(lambda: dialog.loaded == 2, timeout=WAIT_MS)
    qtbot.keyClicks(dialog.ssid, "line-wifi")
    dialog.task.setCurrentIndex(dialog.task.findData(TASK))
    dialog.batch.setCurrentIndex(dialog.batch.findData(BATCH))
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: station.request is not None, timeout=WAIT_MS)
    qtbot.wait(300)
    assert station.running_ports() == [] and station.results == [], "OK re-provisioned the ticked boards"
    assert all(t.state is PortState.READY for t in station.grid.tiles.values())

    window.show_page("Provisioning")
    again = provisioning.open_start_dialog()
    qtbot.waitUntil(lambda: again.loaded == 2, timeout=WAIT_MS)
    assert again.ssid.text() == "line-wifi", "the Provisioning page's dialog opened with an empty SSID"
    assert (again.task.currentData(), again.batch.currentData()) == (TASK, BATCH)
    qtbot.mouseClick(again.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.current_page() is station, timeout=WAIT_MS)
    assert station.running_ports() == [] and station.results == []


def test_a_board_already_in_another_batch_is_listed_and_refused_before_its_efuses_are_burned(
    qtbot: QtBot, page: StationPage, ready: LocalInstance, make_fleet: FleetFactory
) -> None:
    """Defect 2: the station's records know the board (by MAC) and where its DeviceID is; a release run
    into another batch must stop at the check step, not burn the eFuses and fail at the push."""
    fleet = make_fleet(1)
    url = provision_one_to_pass(qtbot, page, fleet)
    device_id = tile(page, url).device_id
    ready.create_batch("line-2")

    release = RunRequest(RELEASE_TASK, "line-2", fleet.access_point.ssid, fleet.access_point.password)
    page.accept_provisioning_request(release)
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: page.release_dialog is not None and page.release_dialog.isVisible(), timeout=WAIT_MS
    )
    dialog = page.release_dialog
    assert dialog is not None
    assert dialog.refused_view.isVisible() and len(dialog.refused) == 1, "the board is not listed"
    listed = dialog.refused_view.toPlainText()
    assert device_id in listed and "'line-1'" in listed and "re-enrol" in listed
    qtbot.keyClicks(dialog.typed, "line-2")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    wait_state(qtbot, page, url, PortState.FAIL)
    qtbot.waitUntil(lambda: len(page.results) == 2, timeout=WAIT_MS)
    result = page.results[-1]
    assert result.message.startswith("check failed"), result.message
    assert "'line-1'" in result.message and "Nothing was written" in result.message
    assert not fleet.boards[0].state.efuses.state.secure_boot_en, "eFuses were burned for a refused board"
    assert ready.find_device(device_id).batch == "line-1"  # type: ignore[union-attr]


def test_start_and_stop_from_the_keyboard_and_a_sound_when_chosen(
    qtbot: QtBot, page: StationPage, make_fleet: FleetFactory
) -> None:
    """Foot pedals and scanners send keys: F5 starts the ticked ports, Shift+F5 stops them all."""
    fleet = make_fleet(2, faults=[Faults(stall_at_stage=Stage.IEF_START), Faults()])
    wait_listed(qtbot, page, fleet.urls)
    page.accept_provisioning_request(request_for(fleet))
    assert "F5 starts the ticked ports" in page.start_button.toolTip()
    assert not page.sound_button.isChecked(), "the sound is off until someone chooses it"
    qtbot.mouseClick(page.sound_button, Qt.MouseButton.LeftButton)
    page.activateWindow()
    page.setFocus()
    qtbot.keyClick(page, Qt.Key.Key_F5)
    wait_state(qtbot, page, fleet.urls[1], PortState.PASS)
    qtbot.waitUntil(lambda: len(page.results) == 1, timeout=WAIT_MS)  # the result comes on its own signal
    assert tile(page, fleet.urls[0]).state.busy
    assert page.sound.played == [Outcome.PASS]
    page.port_list.set_checked(fleet.urls[:1])  # only the board still running
    with qtbot.waitSignal(page.status, timeout=WAIT_MS) as status:
        qtbot.keyClick(page, Qt.Key.Key_F5)
    assert "Nothing to start" in status.args[0], "a second press restarted a running board"
    qtbot.keyClick(page, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: len(page.results) == 2 and not page.running_ports(), timeout=WAIT_MS)
    assert [r.outcome for r in page.results] == [Outcome.PASS, Outcome.CANCELLED]
    assert page.sound.played == [Outcome.PASS], "a cancelled run is silent"


def test_keys_chosen_in_the_settings_start_and_stop_a_run_at_once(
    qtbot: QtBot, page: StationPage, make_fleet: FleetFactory
) -> None:
    """A pedal that sends F9 and a scanner that sends Ctrl+F12: chosen while the page is open."""
    fleet = make_fleet(1, faults=[Faults(stall_at_stage=Stage.IEF_START)])
    wait_listed(qtbot, page, fleet.urls)
    page.accept_provisioning_request(request_for(fleet))
    settings = page.context.settings
    assert set_action_key(settings, START_ACTION, QKeySequence("F9")) is None
    assert set_action_key(settings, STOP_ACTION, QKeySequence("Ctrl+F12")) is None
    assert "F9 starts the ticked ports, Ctrl+F12 stops" in page.start_button.toolTip()
    page.activateWindow()
    page.setFocus()
    with qtbot.assertNotEmitted(page.status, wait=300):
        qtbot.keyClick(page, Qt.Key.Key_F5)  # the old key does nothing any more
    assert not page.running_ports()
    qtbot.keyClick(page, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: tile(page, fleet.urls[0]).state.busy, timeout=WAIT_MS)
    qtbot.keyClick(page, Qt.Key.Key_F12, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(page.results) == 1 and not page.running_ports(), timeout=WAIT_MS)
    assert page.results[0].outcome is Outcome.CANCELLED
