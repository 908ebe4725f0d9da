"""Records made by real provisioning in the window, shown on the Records page, and Re-enrol from one.

Two virtual boards through the Station page (real port workers, real local instance): one passes, one
is the wrong chip and fails at the check step. The Records page shows both with their step logs, the
records file and an export hold no WiFi password, and "Re-enrol this board…" on the passed record runs
a re-enrolment on the Station page that ends in a third record.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.domain.chips import ChipType
from app.domain.records import PageRequest
from app.instance.local.instance import LocalInstance
from app.provisioning.events import Outcome
from app.provisioning.record_export import ExportFormat
from app.provisioning.records import PushState, RecordsDB
from app.sim.faults import Faults
from app.system.paths import DataDir
from app.ui.main_window import MainWindow
from app.ui.pages.records import RecordsPage
from app.ui.pages.station import StationPage
from app.workers.port_states import PortState
from tests.provisioning.sim_boards import board_device_id
from tests.ui.station_support import (
    BATCH,
    WAIT_MS,
    FleetFactory,
    request_for,
    tile,
    wait_listed,
    wait_state,
)


@pytest.fixture(autouse=True)
def _no_leaks(nothing_left_behind: None) -> None:
    """No port worker and no Python thread (reader, simulator) outlives a test."""


def test_boards_provisioned_in_the_window_are_on_the_records_page_and_one_is_re_enrolled(
    qtbot: QtBot, ready: LocalInstance, window: MainWindow, make_fleet: FleetFactory, tmp_path: Path
) -> None:
    fleet = make_fleet(2, faults=[None, Faults(report_chip=ChipType.ESP32)])
    good, wrong_chip = fleet.urls
    password = fleet.access_point.password
    station = window.page("Station")
    records = window.page("Records")
    assert isinstance(station, StationPage) and isinstance(records, RecordsPage)
    window.show_page("Station")
    wait_listed(qtbot, station, fleet.urls)
    station.accept_provisioning_request(request_for(fleet))
    station.start_ticked()
    wait_state(qtbot, station, good, PortState.PASS)
    wait_state(qtbot, station, wrong_chip, PortState.FAIL)
    qtbot.waitUntil(lambda: len(station.results) == 2, timeout=WAIT_MS)

    menu = tile(station, wrong_chip).menu_actions()  # a failed board's tile offers re-enrolment too
    (action,) = [a for a in menu.actions() if a.text() == "Re-enrol this board…"]
    assert action.isEnabled()
    action.trigger()
    asked = station.reenrol_box
    qtbot.waitUntil(asked.isVisible, timeout=WAIT_MS)
    assert wrong_chip in asked.text() and BATCH in asked.text()
    asked.reject()  # not this one: it is the wrong chip for any IEF
    assert len(station.results) == 2

    window.show_page("Records")
    qtbot.waitUntil(lambda: records.model.total == 2, timeout=WAIT_MS)
    by_port = {records.model.record(row).port: row for row in range(2)}
    passed, failed = records.model.record(by_port[good]), records.model.record(by_port[wrong_chip])
    assert (passed.outcome, passed.step, passed.device_id) == (
        Outcome.PASS,
        "done",
        board_device_id(fleet.boards[0]),
    )
    assert failed.outcome is Outcome.FAIL and failed.step == "check" and "ESP32" in failed.error
    records.select_row(by_port[wrong_chip])
    qtbot.waitUntil(lambda: bool(records.detail.step_lines()), timeout=WAIT_MS)
    lines = records.detail.step_lines()
    assert any("check" in line and "failed" in line for line in lines), lines
    records.select_row(by_port[good])
    qtbot.waitUntil(lambda: records.detail.record is not None and records.detail.record.port == good)
    qtbot.waitUntil(lambda: bool(records.detail.record and records.detail.record.step_log), timeout=WAIT_MS)
    assert any(line.split()[1:3] == ["ief", "passed"] for line in records.detail.step_lines())

    export = tmp_path / "shift.json"
    with RecordsDB(DataDir(window.context.data_dir).records_db) as db:
        assert db.export(export, ExportFormat.JSON) == 2
        files = list(db.path.parent.glob(db.path.name + "*"))
    assert password not in export.read_text(encoding="utf-8")
    for path in files:  # the records file, its WAL and shared memory: the secret is nowhere
        assert password.encode() not in path.read_bytes(), path

    qtbot.mouseClick(records.detail.reenrol_button, Qt.MouseButton.LeftButton)
    assert window.current_page() is station, "Re-enrol runs where the boards are"
    box = station.reenrol_box
    qtbot.waitUntil(box.isVisible, timeout=WAIT_MS)
    assert good in box.text() and BATCH in box.text() and fleet.access_point.ssid in box.text()
    assert password not in box.text()
    reenrol = next(b for b in box.buttons() if b.text() == "Re-enrol")
    qtbot.mouseClick(reenrol, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(station.results) == 3, timeout=WAIT_MS)
    assert station.results[-1].port == good and station.results[-1].outcome is Outcome.PASS

    window.show_page("Records")
    qtbot.mouseClick(records.refresh_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: records.model.total == 3, timeout=WAIT_MS)
    newest = records.model.record(0)
    assert (newest.mode, newest.port, newest.outcome, newest.push_state) == (
        "reenrol",
        good,
        Outcome.PASS,
        PushState.PUSHED,
    )
    assert newest.device_id == passed.device_id
    assert passed.device_id in {d.device_id for d in ready.list_devices(BATCH, PageRequest()).items}


def test_re_enrol_of_a_board_that_is_not_plugged_in_says_what_to_do(
    qtbot: QtBot, ready: LocalInstance, window: MainWindow, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1)
    station = window.page("Station")
    assert isinstance(station, StationPage)
    wait_listed(qtbot, station, fleet.urls)
    with qtbot.waitSignal(station.error, timeout=WAIT_MS) as no_wifi:
        window.route_reenrol_request(fleet.urls[0], BATCH)
    assert "Choose the WiFi network first" in no_wifi.args[0]
    station.accept_provisioning_request(request_for(fleet))
    with qtbot.waitSignal(station.error, timeout=WAIT_MS) as unplugged:
        window.route_reenrol_request("/dev/ttyUSB99", BATCH)
    assert "No board is plugged into /dev/ttyUSB99 now" in unplugged.args[0]
    assert "plug the board back into that port" in window.error_banner.message()
