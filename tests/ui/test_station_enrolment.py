"""A PASS that means enrolled, on the Station page's tiles (issue 14): real page, real instance, its real
enrolment service on loopback TLS, virtual boards that enrol over it, real port workers."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, IefKind, KeyType
from app.domain.run_options import TaskRunOptions
from app.enrolment.runner import EnrolListen, start_enrolment
from app.instance.api import Instance
from app.instance.local.instance import LocalInstance
from app.instance.mirror.instance import MirrorInstance
from app.instance.mirror.store import MirrorStore
from app.instance.remote.connection import Connection
from app.instance.remote.instance import RemoteInstance
from app.provisioning.events import Outcome
from app.provisioning.records import RecordsDB
from app.sim.faults import Faults, Stage
from app.system.paths import DataDir
from app.ui.pages.context import PageContext
from app.ui.pages.station import StationPage
from app.ui.widgets.port_tile import BADGES
from app.workers.port_states import PortState
from tests.provisioning.sim_boards import board_device_id
from tests.support.served import ServedInstanceForTests
from tests.support.tcp_proxy import TcpProxy
from tests.ui.pool_drain import drain_pool
from tests.ui.station_support import (
    BATCH,
    TASK,
    FleetFactory,
    provision_one_to_pass,
    request_for,
    tile,
    wait_listed,
    wait_state,
)

WAIT_FOR_ENROLMENT = TaskRunOptions(enrol_wait_s=40)


@pytest.fixture(autouse=True)
def _no_leaks(nothing_left_behind: None) -> None:
    """No port worker and no Python thread (reader, simulator, console reader) outlives a test."""


@pytest.fixture
def enrolling(ready: LocalInstance, context: PageContext) -> Iterator[LocalInstance]:
    """The built-in instance serving enrolments where its boards are sent; its task waits for them."""
    keys = Path(context.data_dir)
    keys.mkdir(parents=True, exist_ok=True)
    service = start_enrolment(ready, EnrolListen("127.0.0.1", 0), keys)
    ready.set_instance_params("127.0.0.1", service.port)
    task = ready.get_task(TASK)
    ready.update_task(
        TASK, task.device_type, task.bootloader, task.ief, task.signing_key, run_options=WAIT_FOR_ENROLMENT
    )
    yield ready
    service.stop()


def test_a_pass_says_enrolled_with_the_firmware_and_a_damaged_deviceid_fails_on_its_tile(
    qtbot: QtBot, enrolling: LocalInstance, page: StationPage, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(2, faults=[None, Faults(corrupt_device_id=True)])
    good, damaged = fleet.urls
    wait_listed(qtbot, page, fleet.urls)
    page.accept_provisioning_request(request_for(fleet))
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)

    wait_state(qtbot, page, good, PortState.PASS)
    assert tile(page, good).badge.text == BADGES[PortState.PASS][2]
    assert tile(page, good).step.text() == "Enrolled, firmware sim-1"
    device = enrolling.find_device(board_device_id(fleet.boards[0]) or "")
    assert device is not None and device.firmware == "sim-1"

    wait_state(qtbot, page, damaged, PortState.FAIL)
    reason = tile(page, damaged).full_text()
    assert reason.startswith("Failed while waiting for enrolment:"), reason
    assert (
        "not enrolled: DeviceID damaged on the UART: the board enrols as a DeviceID that is in no" in reason
    )
    assert "E (" in "\n".join(page.lines[damaged].console), "the board's own QL line is in its console"


def test_a_re_enrolment_from_the_window_waits_until_the_board_is_enrolled_again(
    qtbot: QtBot, enrolling: LocalInstance, page: StationPage, make_fleet: FleetFactory
) -> None:
    """Re-enrol (a tile's menu, the Records page) waits as the chosen task says, like its provisioning:
    its PASS means the board reconnected to the instance from the new batch."""
    enrolling.create_batch("field")
    fleet = make_fleet(1)
    url = provision_one_to_pass(qtbot, page, fleet)
    qtbot.waitUntil(lambda: len(page.results) == 1, timeout=60_000)

    page.accept_reenrol_request(url, "field")
    box = page.reenrol_box
    qtbot.waitUntil(box.isVisible, timeout=60_000)
    qtbot.mouseClick(next(b for b in box.buttons() if b.text() == "Re-enrol"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(page.results) == 2, timeout=60_000)
    assert page.results[-1].outcome is Outcome.PASS, tile(page, url).full_text()
    # Amber, as any run whose board kept its WiFi: it never asked for the network given (nor the record).
    assert tile(page, url).state is PortState.WARNING
    assert tile(page, url).step.text() == "Joined the WiFi it had kept, not the one given"
    with RecordsDB(DataDir(page.context.data_dir).records_db) as records:
        newest = next(records.iterate())
    assert newest.mode == "reenrol" and newest.batch == "field"
    assert newest.warning.startswith("joined the WiFi network it had kept, not the one given")
    assert ("enrol", "passed", "enrolled, firmware sim-1") in [
        (e.step, e.status, e.message) for e in newest.step_log
    ]


@pytest.mark.parametrize("where", ["another instance", "a closed port"])
def test_a_board_that_cannot_reach_its_instance_fails_with_the_boards_reason_on_its_tile(
    qtbot: QtBot,
    enrolling: LocalInstance,
    page: StationPage,
    make_fleet: FleetFactory,
    tmp_path: Path,
    where: str,
) -> None:
    """Boards sent to another instance's service (its TLS certificate is not under their root CA), or to a
    port held closed: the tile names the board's own reason, long before the 40 s wait runs out."""
    with contextlib.ExitStack() as stack:
        if where == "another instance":
            folder = tmp_path / "other"
            folder.mkdir()
            stranger = stack.enter_context(LocalInstance.open(folder / "other.sqlite3"))
            service = start_enrolment(stranger, EnrolListen("127.0.0.1", 0), folder)
            stack.callback(service.stop)
            port, expected = service.port, "server certificate not trusted by ql_rootCA"
        else:
            held = stack.enter_context(socket.socket())
            held.bind(("127.0.0.1", 0))
            port, expected = held.getsockname()[1], "connection refused (nothing listens on the endpoint"
        enrolling.set_instance_params("127.0.0.1", port)
        fleet = make_fleet(1)
        url = fleet.urls[0]
        wait_listed(qtbot, page, fleet.urls)
        page.accept_provisioning_request(request_for(fleet))
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
        wait_state(qtbot, page, url, PortState.FAIL)
    reason = tile(page, url).full_text()
    assert reason.startswith("Failed while waiting for enrolment:\nnot enrolled: the board could not enrol:")
    assert expected in reason
    assert tile(page, url).duration_s is not None and tile(page, url).duration_s < 30


@pytest.fixture
def offline_page(
    qtbot: QtBot, tmp_path: Path, make_context: Callable[[Instance], PageContext]
) -> Iterator[tuple[StationPage, TcpProxy]]:
    """The Station page on a served instance reached through a proxy the test can cut."""
    served = ServedInstanceForTests(tmp_path / "served")
    station = served.served.station
    station.create_signing_key("line-key", KeyType.RSA_3072)
    station.create_task(
        TASK, ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, "line-key", run_options=WAIT_FOR_ENROLMENT
    )
    station.create_batch(BATCH)
    proxy = TcpProxy(int(served.url.rsplit(":", 1)[1]))
    remote = RemoteInstance(
        Connection(proxy.url, served.ca_file, token=served.served.issue_token(None), connect_timeout_s=2)
    )
    mirror = MirrorInstance(remote, MirrorStore(tmp_path / "mirror.sqlite3", served.url), retry_s=0.1)
    page = StationPage(make_context(mirror), flush_ms=50, scan_ms=100)
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    yield page, proxy
    page.shutdown()
    drain_pool()
    mirror.close()
    proxy.close()
    served.close()


def test_offline_the_run_passes_amber_saying_enrolment_is_not_confirmed(
    qtbot: QtBot, offline_page: tuple[StationPage, TcpProxy], make_fleet: FleetFactory
) -> None:
    page, proxy = offline_page
    fleet = make_fleet(1, faults=[Faults(stall_at_stage=Stage.DEVICE_ID, stall_seconds=2.0)])  # time to cut
    url = fleet.urls[0]
    wait_listed(qtbot, page, fleet.urls)
    page.accept_provisioning_request(request_for(fleet))
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tile(page, url).state is PortState.RUNNING, timeout=60_000)
    proxy.set_mode("refuse")  # the network goes: the DeviceID is queued, nobody can say it enrolled

    wait_state(qtbot, page, url, PortState.WARNING)
    shown = tile(page, url)
    assert shown.badge.text == BADGES[PortState.WARNING][2]
    assert shown.step.text() == "Enrolment not confirmed: offline"
    assert "the instance could not be asked whether the board enrolled" in shown.full_text()
    with RecordsDB(DataDir(page.context.data_dir).records_db) as records:  # the Records page's, exports'
        (record,) = records.iterate()
    assert (record.outcome, record.error) == (Outcome.PASS, "")
    assert record.warning.startswith("enrolment not confirmed: offline"), record.warning
