"""The Station page on a production line (issue 13): what an operator relies on when many boards run.

Real window and page, real local instance, real virtual boards and port workers, as in
test_station_page.py; each test here failed on the page as it was before issue 13.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPlainTextEdit, QScrollArea
from pytestqt.qtbot import QtBot

from app.instance.local.instance import LocalInstance
from app.ports.discovery import PortInfo, PortKind
from app.sim.faults import Faults, Stage
from app.ui.main_window import QUIT_KEYS, MainWindow
from app.ui.pages.station import StationPage
from app.ui.pages.station_drawer import LOG_TAB
from app.ui.widgets.port_tile import BADGES
from app.workers.port_states import PortState
from tests.provisioning.sim_boards import board_device_id
from tests.ui.station_support import (
    BATCH,
    RELEASE_TASK,
    WAIT_MS,
    FleetFactory,
    boards_held_at_wifi,
    provision_one_to_pass,
    request_for,
    tile,
    wait_listed,
    wait_state,
)


@pytest.fixture(autouse=True)
def _no_leaks(nothing_left_behind: None) -> None:
    """No port worker and no Python thread (reader, simulator) outlives a test."""


def test_retry_uses_the_settings_chosen_since_not_the_failed_runs(
    qtbot: QtBot, page: StationPage, make_fleet: FleetFactory
) -> None:
    """A wrong WiFi password fails; the person enters the right one; Retry on the tile uses it."""
    fleet = make_fleet(1)
    url = fleet.urls[0]
    wait_listed(qtbot, page, fleet.urls)
    right = request_for(fleet)
    page.accept_provisioning_request(replace(right, password="not-the-password"))
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    wait_state(qtbot, page, url, PortState.FAIL)

    page.accept_provisioning_request(right)
    retry = tile(page, url).retry_button
    assert retry.isEnabled()
    assert f"“{right.task}”" in retry.toolTip() and f"“{right.batch}”" in retry.toolTip()
    assert f"WiFi “{right.ssid}”" in retry.toolTip(), "the tile says which network Retry uses"
    qtbot.mouseClick(retry, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tile(page, url).run == 2, timeout=WAIT_MS)
    wait_state(qtbot, page, url, PortState.PASS)
    assert tile(page, url).device_id == board_device_id(fleet.boards[0])


def test_a_board_that_kept_its_own_wifi_passes_amber_with_the_reason_on_its_tile(
    qtbot: QtBot, page: StationPage, make_fleet: FleetFactory
) -> None:
    """Provisioned again with another SSID, the board joins the network it kept: not a plain green."""
    fleet = make_fleet(1)
    url = provision_one_to_pass(qtbot, page, fleet)
    assert tile(page, url).badge.text == "✓  PASS"

    page.accept_provisioning_request(replace(request_for(fleet), ssid="another-site"))
    qtbot.mouseClick(tile(page, url).retry_button, Qt.MouseButton.LeftButton)
    wait_state(qtbot, page, url, PortState.WARNING)
    amber = tile(page, url)
    assert amber.badge.text == "⚠  PASS · WARNING" and amber.badge.background == BADGES[PortState.WARNING][0]
    assert amber.step.text() == "Joined the WiFi it had kept, not the one given", "on the tile, not a tooltip"
    qtbot.waitUntil(lambda: len(page.results) == 2, timeout=WAIT_MS)
    assert page.counters_row.passed.value.text() == "2"
    assert page.counters_row.passed.detail.text() == "1 with a warning"


def test_a_failure_reads_on_the_tile_and_in_full_one_click_away(
    qtbot: QtBot, page: StationPage, make_fleet: FleetFactory
) -> None:
    """The reason wraps on the tile (not cut at the tile's width); a click on it opens the whole text."""
    fleet = make_fleet(1)
    url = fleet.urls[0]
    wait_listed(qtbot, page, fleet.urls)
    page.accept_provisioning_request(replace(request_for(fleet), password="not-the-password"))
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    wait_state(qtbot, page, url, PortState.FAIL)
    failed = tile(page, url)
    message = failed.snapshot.message if failed.snapshot else ""
    assert len(message) > 60
    shown = failed.step.text()
    assert shown.startswith("Failed while enrolling (IEF): ")
    assert len(shown) > 70, "more than one line's worth of the reason is on the tile"
    assert message[:40] in shown

    qtbot.mouseClick(failed.step, Qt.MouseButton.LeftButton)
    assert page.drawer.isVisible() and page.drawer.port == url
    assert page.drawer.reason.isVisible() and message in page.drawer.reason.text()
    assert "RESULT FAIL" in page.drawer.log_view.toPlainText()


def test_the_log_drawer_opens_at_its_left_edge_and_wraps(
    qtbot: QtBot, page: StationPage, make_fleet: FleetFactory
) -> None:
    """Timestamps start each line: a drawer opened scrolled sideways hid them."""
    fleet = make_fleet(1)
    url = provision_one_to_pass(qtbot, page, fleet)
    page.show_drawer(url, LOG_TAB)
    view = page.drawer.log_view
    qtbot.waitExposed(view)
    assert max(len(line) for line in view.toPlainText().splitlines()) * 7 > view.viewport().width()
    assert view.lineWrapMode() is QPlainTextEdit.LineWrapMode.WidgetWidth
    assert view.horizontalScrollBar().value() == 0


def test_quitting_while_boards_run_asks_first_and_keeps_them_running_on_no(
    qtbot: QtBot, ready: LocalInstance, window: MainWindow, make_fleet: FleetFactory
) -> None:
    station, urls = boards_held_at_wifi(qtbot, window, make_fleet, 4)

    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    QTest.keySequence(window, QKeySequence(QUIT_KEYS))
    box = window.quit_box
    assert box is not None
    qtbot.waitUntil(box.isVisible, timeout=5_000)
    assert box.text() == "4 boards are still running — stop them and quit?"
    assert "RELEASE" not in box.text()
    keep = next(b for b in box.buttons() if b.text() == "Keep running")
    qtbot.mouseClick(keep, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not box.isVisible(), timeout=5_000)
    assert window.isVisible() and station.service.running
    assert all(tile(station, url).state is PortState.RUNNING for url in urls), "nothing was stopped"

    window.close()
    box = window.quit_box
    qtbot.waitUntil(box.isVisible, timeout=5_000)
    stop = next(b for b in box.buttons() if b.text() == "Stop them and quit")
    qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)
    assert station.service.station_thread.isFinished(), "the runs were stopped and the boards reset"


def test_quitting_says_so_when_a_release_bootloader_is_being_written(
    qtbot: QtBot, ready: LocalInstance, window: MainWindow, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1, faults=[Faults(stall_at_stage=Stage.FLASH_DATA)])
    station = window.page("Station")
    assert isinstance(station, StationPage)
    wait_listed(qtbot, station, fleet.urls)
    request = request_for(fleet, RELEASE_TASK)
    station.service.start(fleet.urls, request.confirmed(BATCH, 115_200))
    qtbot.waitUntil(lambda: tile(station, fleet.urls[0]).step.text().startswith("Flashing"), timeout=WAIT_MS)
    question = window.quit_question()
    assert question is not None and question.startswith("1 board is still running — stop it and quit?")
    assert "RELEASE bootloader written or started now (sim-1)" in question


def test_provision_becomes_stop_while_boards_run_and_stops_them_all(
    qtbot: QtBot, page: StationPage, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(3, faults=[Faults(stall_at_stage=Stage.FLASH_DATA)] * 3)
    wait_listed(qtbot, page, fleet.urls)
    page.accept_provisioning_request(request_for(fleet))
    assert page.start_button.text() == "Provision 3 boards"
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.start_button.text() == "■  Stop 3 boards", timeout=WAIT_MS)
    assert page.start_button.isEnabled()
    for url in fleet.urls:
        qtbot.waitUntil(lambda u=url: tile(page, u).step.text().startswith("Flashing"), timeout=WAIT_MS)
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    for url in fleet.urls:
        wait_state(qtbot, page, url, PortState.CANCELLED)
    qtbot.waitUntil(lambda: page.start_button.text() == "Provision 3 boards", timeout=WAIT_MS)


def test_an_unplugged_boards_tile_can_be_cleared_and_a_new_board_clears_it(
    qtbot: QtBot, page: StationPage, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(2)
    wait_listed(qtbot, page, fleet.urls)
    page.accept_provisioning_request(request_for(fleet))
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    for url in fleet.urls:
        wait_state(qtbot, page, url, PortState.PASS)
    first, second = fleet.urls
    for server in fleet.servers:
        server.unplug()
    qtbot.waitUntil(lambda: not tile(page, first).plugged and not tile(page, second).plugged, timeout=WAIT_MS)
    assert page.clear_button.isVisible()
    tile(page, first).clear_requested.emit(first)  # "Clear this tile" in its menu
    assert first not in page.grid.tiles and second in page.grid.tiles

    fleet.servers[1].replug()  # another board in that port: its tile starts afresh
    qtbot.waitUntil(lambda: second in page.grid.tiles and tile(page, second).plugged, timeout=WAIT_MS)
    assert tile(page, second).state is PortState.READY and tile(page, second).badge.text == "READY"
    assert not page.clear_button.isVisible()


def test_two_ports_never_show_the_same_name(qtbot: QtBot, page: StationPage) -> None:
    """Two `ql-station sim` fleets both name their first board "sim-1" (as discovery lists them)."""
    ports = [
        PortInfo(f"rfc2217://127.0.0.1:{tcp}", PortKind.VIRTUAL, "virtual ESP32-C3", name="sim-1")
        for tcp in (4001, 5001)
    ]
    page.show_ports([*ports, PortInfo("/dev/ttyUSB0", PortKind.USB, "CP2102")])
    titles = sorted(t.title.text() for t in page.grid.tiles.values())
    assert titles == ["sim-1 · 4001", "sim-1 · 5001", "ttyUSB0"]
    listed = sorted(page.port_list.list.item(i).text().split("  ·  ")[0].split("\n")[0] for i in range(3))
    assert listed == titles


@pytest.mark.parametrize(("boards", "size"), [(64, (1920, 1080)), (16, (1280, 800))])
def test_a_line_of_boards_fits_the_window_without_scrolling(
    qtbot: QtBot,
    ready: LocalInstance,
    window: MainWindow,
    make_fleet: FleetFactory,
    boards: int,
    size: tuple[int, int],
) -> None:
    fleet = make_fleet(boards)
    window.resize(*size)
    window.show_page("Station")
    station = window.page("Station")
    assert isinstance(station, StationPage)
    wait_listed(qtbot, station, fleet.urls)
    qtbot.waitUntil(lambda: len(station.grid.ordered()) == boards, timeout=WAIT_MS)
    station.grid.layout().activate()
    area = station.splitter.widget(0)
    assert isinstance(area, QScrollArea)
    assert area.verticalScrollBar().maximum() == 0, "no scrolling"
    viewport = area.viewport()
    assert all(viewport.rect().contains(t.geometry()) for t in station.grid.ordered())
