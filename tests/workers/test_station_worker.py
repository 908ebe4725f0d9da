"""The station worker: coalesced snapshots, no lost results, masked secrets, real boards end to end.

The coalescing tests fire events at the worker's listener (the interface the supervisor calls, from
many threads at once, as the supervisor does). The end-to-end tests run the real supervisor with real
port-worker processes against virtual boards on loopback, with a real local instance.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.domain.errors import NotFoundError
from app.domain.kinds import IefKind
from app.domain.records import PageRequest
from app.domain.run_options import TaskRunOptions
from app.flashing.flash_errors import ReleaseConfirmationError
from app.instance.local.instance import LocalInstance
from app.provisioning.events import (
    DeviceIdEvent,
    ErrorEvent,
    LogEvent,
    LogSource,
    Outcome,
    ProgressEvent,
    ResultEvent,
    Step,
    StepEvent,
    StepStatus,
)
from app.provisioning.job import MASK
from app.provisioning.records import RecordsDB
from app.provisioning.run_request import RunRequest
from app.provisioning.step_facts import StepFacts
from app.sim.faults import Stage
from app.sim.fleet import SimFleet
from app.system.paths import DataDir
from app.workers.background import CallFailure
from app.workers.port_states import PortResult, PortSnapshot, PortState, PortStates, Reached
from app.workers.station_worker import StationEngine, StationService
from tests.provisioning.sim_boards import board_device_id
from tests.support.line_tasks import create_line_tasks

FLUSH_MS = 50
WAIT_MS = 60_000
TASK, RELEASE_TASK, BATCH = "c3-dev", "c3-release", "line-1"


@pytest.fixture(autouse=True)
def _no_leaks(nothing_left_behind: None) -> None:
    """No port worker and no Python thread (reader, simulator) outlives a test."""


@dataclass
class Station:
    data_dir: DataDir
    instance: LocalInstance


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Station]:
    data_dir = DataDir(tmp_path / "station").ensure()
    with LocalInstance.open(data_dir.local_instance_db) as instance:
        create_line_tasks(instance, TASK, RELEASE_TASK)
        instance.create_batch(BATCH)
        yield Station(data_dir, instance)


class Seen:
    """Everything the worker emitted, as received on the GUI thread."""

    def __init__(self, service: StationService) -> None:
        self.updates: list[dict[str, PortSnapshot]] = []
        self.results: list[PortResult] = []
        self.problems: list[CallFailure | str] = []
        self.listed: list[list[str]] = []
        worker = service.worker
        worker.ports_updated.connect(self.updates.append)
        worker.port_finished.connect(self.results.append)
        worker.problem.connect(self.problems.append)
        worker.ports_listed.connect(lambda ports: self.listed.append([p.url for p in ports]))

    def latest(self, port: str) -> PortSnapshot | None:
        for update in reversed(self.updates):
            if port in update:
                return update[port]
        return None

    def lines(self, port: str) -> list[str]:
        return [line for u in self.updates if port in u for line in (*u[port].new_log, *u[port].new_console)]

    def result(self, port: str) -> PortResult | None:
        return next((r for r in reversed(self.results) if r.port == port), None)


ServiceFactory = Callable[..., tuple[StationService, Seen]]


@pytest.fixture
def make_service(qtbot: QtBot) -> Iterator[ServiceFactory]:
    services: list[StationService] = []

    def make(instance: LocalInstance, data_dir: Path, scan_ms: int = 100) -> tuple[StationService, Seen]:
        service = StationService(instance, data_dir, flush_ms=FLUSH_MS, scan_ms=scan_ms)
        seen = Seen(service)
        services.append(service)
        service.begin()
        return service, seen

    yield make
    for service in services:
        service.stop()
        assert service.station_thread.isFinished()


@pytest.fixture
def make_fleet(station: Station) -> Iterator[Callable[..., SimFleet]]:
    fleets: list[SimFleet] = []

    def start(count: int, prefix: str = "sim", **kw: object) -> SimFleet:
        fleet = SimFleet(
            station.data_dir.root / f"boards-{prefix}",
            count=count,
            pacing=False,
            registry=station.data_dir.sim_registry,
            name_prefix=prefix,
            **kw,  # type: ignore[arg-type]
        )
        fleets.append(fleet)
        return fleet

    yield start
    for fleet in fleets:
        fleet.close()


def request_for(fleet: SimFleet, task: str = TASK, confirm: str | None = None) -> RunRequest:
    ap = fleet.access_point
    return RunRequest(task=task, batch=BATCH, ssid=ap.ssid, password=ap.password, confirm_release=confirm)


# --- coalescing ----------------------------------------------------------------------------------
def _fire_one_board(
    service: StationService, port: str, progress: int, lines: int, gate: threading.Barrier
) -> None:
    on_event = service.states.on_event
    service.states.preparing(port)
    gate.wait()
    on_event(StepEvent(port=port, step=Step.FLASH, status=StepStatus.STARTED))
    for i in range(progress):
        on_event(
            ProgressEvent(
                port=port,
                step=Step.FLASH,
                index=0,
                count=1,
                name="ief",
                image_done=i + 1,
                image_total=progress,
                overall_done=i + 1,
                overall_total=progress,
            )
        )
        if i % (progress // lines) == 0:
            on_event(LogEvent(port=port, level="info", source=LogSource.BOARD, text=f"line {i}"))
        time.sleep(0.003)  # a board writes for a while; the whole burst lasts over a second
    on_event(StepEvent(port=port, step=Step.FLASH, status=StepStatus.PASSED, message="written"))
    device_id = f"{abs(hash(port)):064x}"[-64:]
    on_event(DeviceIdEvent(port=port, device_id=device_id))
    on_event(ResultEvent(port=port, outcome=Outcome.PASS, duration_s=1.0, device_id=device_id))


def test_many_ports_firing_progress_cost_few_updates_and_lose_no_result(
    qtbot: QtBot, station: Station, make_service: ServiceFactory
) -> None:
    service, seen = make_service(station.instance, station.data_dir.root, scan_ms=60_000)
    ports = [f"rfc2217://127.0.0.1:{40000 + i}" for i in range(32)]
    progress, lines = 400, 40
    gate = threading.Barrier(len(ports) + 1)
    threads = [
        threading.Thread(target=_fire_one_board, args=(service, port, progress, lines, gate))
        for port in ports
    ]
    for thread in threads:
        thread.start()
    qtbot.waitUntil(lambda: gate.n_waiting == len(ports), timeout=WAIT_MS)
    started = time.monotonic()
    emissions_before = service.worker.emissions
    gate.wait()
    for thread in threads:
        thread.join()
    qtbot.waitUntil(lambda: len(seen.results) == len(ports), timeout=WAIT_MS)
    elapsed = time.monotonic() - started
    emissions = service.worker.emissions - emissions_before

    events = len(ports) * (progress + lines + 4)
    bound = elapsed * 1000 / FLUSH_MS + 2
    assert 1 <= emissions <= bound, f"{emissions} updates in {elapsed:.2f} s for {events} events"
    assert emissions >= elapsed * 1000 / FLUSH_MS / 4, "progress shows while boards run, not only at the end"
    assert emissions < events / 200
    assert sorted(r.port for r in seen.results) == sorted(ports), "every result arrives exactly once"
    for port in ports:
        final = seen.latest(port)
        assert (
            final is not None
            and final.state is PortState.PASS
            and final.reached == Reached.at(Step.DONE, 1.0)
        )
        assert final.device_id == seen.result(port).device_id != ""  # type: ignore[union-attr]
        console = [line for u in seen.updates if port in u for line in u[port].new_console]
        assert console == [f"line {i}" for i in range(0, progress, progress // lines)], "no line lost"


def test_errors_and_the_result_survive_a_burst_of_progress(
    qtbot: QtBot, station: Station, make_service: ServiceFactory
) -> None:
    service, seen = make_service(station.instance, station.data_dir.root, scan_ms=60_000)
    port = "rfc2217://127.0.0.1:40999"
    on_event = service.states.on_event
    service.states.preparing(port)
    on_event(StepEvent(port=port, step=Step.DETECT, status=StepStatus.STARTED))
    on_event(
        StepEvent(
            port=port,
            step=Step.DETECT,
            status=StepStatus.PASSED,
            facts=StepFacts(chip="ESP32-C3", mac="02:aa"),
        )
    )
    on_event(ErrorEvent(port=port, step=Step.FLASH, message="the board vanished at 0x10000"))
    on_event(
        ResultEvent(port=port, outcome=Outcome.FAIL, duration_s=2.5, step=Step.FLASH, message="vanished")
    )
    with qtbot.waitSignal(service.worker.port_finished, timeout=WAIT_MS):
        pass
    qtbot.waitUntil(lambda: seen.latest(port) is not None and seen.latest(port).state is PortState.FAIL)  # type: ignore[union-attr]
    final = seen.latest(port)
    assert final is not None
    assert final.errors == ("the board vanished at 0x10000",)
    assert (final.chip, final.mac, final.duration_s) == ("ESP32-C3", "02:aa", 2.5)
    assert final.stopped_at is Step.FLASH
    assert seen.result(port) == PortResult(port, 1, Outcome.FAIL, 2.5, "", "vanished", "ESP32-C3")


def test_the_wifi_password_is_masked_in_every_line(
    qtbot: QtBot, station: Station, make_service: ServiceFactory
) -> None:
    service, seen = make_service(station.instance, station.data_dir.root, scan_ms=60_000)
    secret, port = "hunter2-wifi-pass", "rfc2217://127.0.0.1:40998"
    service.states.add_secret(secret)
    service.states.preparing(port)
    on_event = service.states.on_event
    on_event(LogEvent(port=port, level="debug", source=LogSource.BOARD, text=f"wifi_password={secret}"))
    on_event(LogEvent(port=port, level="warning", source=LogSource.ESPTOOL, text=f"echo {secret}"))
    on_event(ErrorEvent(port=port, step=Step.IEF, message=f"bad reply {secret}"))
    on_event(ResultEvent(port=port, outcome=Outcome.FAIL, duration_s=1.0, message=f"failed {secret}"))
    qtbot.waitUntil(lambda: len(seen.results) == 1, timeout=WAIT_MS)
    texts = [*seen.lines(port), *seen.latest(port).errors, seen.latest(port).message, seen.results[0].message]  # type: ignore[union-attr]
    assert all(secret not in text for text in texts)
    assert sum(MASK in text for text in texts) >= 6


# --- real boards ---------------------------------------------------------------------------------
def test_lists_virtual_boards_and_provisions_them_into_the_batch(
    qtbot: QtBot, station: Station, make_service: ServiceFactory, make_fleet: Callable[..., SimFleet]
) -> None:
    fleet = make_fleet(2)
    service, seen = make_service(station.instance, station.data_dir.root)
    qtbot.waitUntil(lambda: bool(seen.listed) and set(fleet.urls) <= set(seen.listed[-1]), timeout=WAIT_MS)
    service.start(fleet.urls, request_for(fleet))
    qtbot.waitUntil(lambda: len(seen.results) == 2, timeout=WAIT_MS)

    assert {r.outcome for r in seen.results} == {Outcome.PASS}, [r.message for r in seen.results]
    pushed = {d.device_id for d in station.instance.list_devices(BATCH, PageRequest(limit=100)).items}
    computed = {board_device_id(board) for board in fleet.boards}
    assert {r.device_id for r in seen.results} == pushed == computed
    for url in fleet.urls:
        lines = seen.lines(url)
        assert any("IEF" in line for line in lines), "the board's console reached the window"
        assert all(fleet.access_point.password not in line for line in lines)
    assert seen.problems == []


def test_production_mode_starts_only_boards_plugged_in_after_it_is_armed(
    qtbot: QtBot, station: Station, make_service: ServiceFactory, make_fleet: Callable[..., SimFleet]
) -> None:
    present = make_fleet(1, "early")
    service, seen = make_service(station.instance, station.data_dir.root)
    qtbot.waitUntil(lambda: bool(seen.listed) and present.urls[0] in seen.listed[-1], timeout=WAIT_MS)
    service.set_production(request_for(present))
    late = make_fleet(1, "late", access_point=present.access_point)
    qtbot.waitUntil(lambda: len(seen.results) == 1, timeout=WAIT_MS)
    assert seen.results[0].port == late.urls[0] and seen.results[0].outcome is Outcome.PASS
    assert service.states.state_of(present.urls[0]) is PortState.READY


def test_an_unknown_task_is_refused_and_the_ports_are_ready_again(
    qtbot: QtBot, station: Station, make_service: ServiceFactory, make_fleet: Callable[..., SimFleet]
) -> None:
    fleet = make_fleet(1)
    service, seen = make_service(station.instance, station.data_dir.root)
    service.start(fleet.urls, RunRequest("no-such-task", BATCH, "lab", "lab-password-1"))
    qtbot.waitUntil(lambda: bool(seen.problems), timeout=WAIT_MS)
    [failure] = seen.problems
    assert isinstance(failure, CallFailure) and isinstance(failure.error, NotFoundError)
    assert failure.message.startswith("Provisioning could not start:")
    assert "no-such-task" in failure.message and not failure.unexpected
    qtbot.waitUntil(lambda: seen.latest(fleet.urls[0]).state is PortState.READY, timeout=WAIT_MS)  # type: ignore[union-attr]
    assert "no-such-task" in seen.latest(fleet.urls[0]).message  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [(None, f"confirm by typing exactly: {BATCH}"), ("line-2", f"expected exactly {BATCH!r}, got 'line-2'")],
)
def test_a_release_task_needs_the_batch_name_typed(
    qtbot: QtBot,
    station: Station,
    make_service: ServiceFactory,
    make_fleet: Callable[..., SimFleet],
    typed: str | None,
    expected: str,
) -> None:
    fleet = make_fleet(1)
    service, seen = make_service(station.instance, station.data_dir.root)
    service.start(fleet.urls, request_for(fleet, RELEASE_TASK, typed))
    qtbot.waitUntil(lambda: bool(seen.problems), timeout=WAIT_MS)
    failure = seen.problems[0]
    assert isinstance(failure, CallFailure) and isinstance(failure.error, ReleaseConfirmationError)
    assert expected in failure.message
    assert Stage.SYNC not in fleet.boards[0].stages, "the station never talked to the board"


def test_cancel_before_a_staggered_worker_starts_leaves_that_board_untouched(
    qtbot: QtBot, station: Station, make_service: ServiceFactory, make_fleet: Callable[..., SimFleet]
) -> None:
    """Workers start a few milliseconds apart; a cancel in between stops the ones not yet started."""
    fleet = make_fleet(3)
    service, seen = make_service(station.instance, station.data_dir.root)
    service.start(fleet.urls, request_for(fleet))
    service.cancel(fleet.urls[2])  # queued right behind the start: it arrives before the third's turn
    qtbot.waitUntil(lambda: len(seen.results) == 2, timeout=WAIT_MS)
    assert sorted(r.port for r in seen.results) == sorted(fleet.urls[:2])
    assert {r.outcome for r in seen.results} == {Outcome.PASS}
    qtbot.waitUntil(lambda: seen.latest(fleet.urls[2]).state is PortState.READY, timeout=WAIT_MS)  # type: ignore[union-attr]
    assert "cancelled by the operator before its worker started" in seen.latest(fleet.urls[2]).message  # type: ignore[union-attr]
    assert Stage.SYNC not in fleet.boards[2].stages, "the station never talked to the cancelled board"


def test_the_window_finishes_what_a_stopped_station_left_in_the_journal(
    station: Station, qtbot: QtBot
) -> None:
    """A DeviceID journaled by a station that was killed before pushing it: said, and delivered at start."""
    from app.domain.device_id import DeviceID
    from app.provisioning.device_journal import JournalState
    from app.provisioning.records import RecordsDB

    device_id = DeviceID("5e" * 32)
    with RecordsDB(station.data_dir.records_db) as records:
        records.journal.receive(device_id, batch=BATCH, move=False, port="sim-9")
    notices: list[str] = []
    service = StationService(station.instance, station.data_dir.root, flush_ms=FLUSH_MS, scan_ms=100)
    service.worker.notice.connect(notices.append)  # before it starts: the note comes at start

    def delivered() -> bool:
        found = station.instance.find_device(device_id)
        return found is not None and found.batch == BATCH

    service.begin()
    try:
        qtbot.waitUntil(delivered, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: any("stopped before pushing them" in n for n in notices), timeout=WAIT_MS)
    finally:
        service.stop()
    with RecordsDB(station.data_dir.records_db) as records:
        assert records.journal.entries()[0].state is JournalState.PUSHED


# --- the request -----------------------------------------------------------------------------------
def test_each_start_builds_its_job_from_the_task_as_it_is_now(station: Station) -> None:
    """No job is kept between starts: a task changed meanwhile applies to the next one."""
    engine = StationEngine(station.instance, station.data_dir.root, PortStates())
    try:
        request = RunRequest(TASK, BATCH, "lab", "lab-password-1")
        first = engine.build_job(request)
        assert (first.enrol_wait_s, first.wifi_password) == (0, "lab-password-1")
        _change_task(station, TaskRunOptions(enrol_wait_s=12, flash_baud=230400), IefKind.NON_DEBUG)
        again = engine.build_job(request)
        assert (again.enrol_wait_s, again.baud) == (12, 230400)
        assert again.image_sha256s != first.image_sha256s, "the task's new IEF"
        assert engine.build_job(request.confirmed(None, 460800)).baud == 230400, "the task's rate wins"
    finally:
        engine.close()


def _change_task(station: Station, options: TaskRunOptions, ief: IefKind) -> None:
    """What `ql-station task update` does from another process, on the same instance file."""
    with LocalInstance.open(station.data_dir.local_instance_db) as other:
        task = other.get_task(TASK)
        other.update_task(TASK, task.device_type, task.bootloader, ief, task.signing_key, run_options=options)


def test_production_mode_flashes_each_new_board_as_the_task_says_when_it_is_plugged_in(
    qtbot: QtBot, station: Station, make_service: ServiceFactory, make_fleet: Callable[..., SimFleet]
) -> None:
    """Armed once, production mode used to start every board with the job built when it was armed: a
    task updated meanwhile (rate, images, wait) did not apply until the mode was left."""
    service, seen = make_service(station.instance, station.data_dir.root)
    qtbot.waitUntil(lambda: bool(seen.listed), timeout=WAIT_MS)
    first = make_fleet(1, "first")
    armed = request_for(first)
    service.set_production(armed)
    qtbot.waitUntil(lambda: service.production == armed, timeout=WAIT_MS)
    second = make_fleet(1, "second", access_point=first.access_point)
    qtbot.waitUntil(lambda: seen.result(second.urls[0]) is not None, timeout=WAIT_MS)
    _change_task(station, TaskRunOptions(enrol_wait_s=0, flash_baud=230400), IefKind.NON_DEBUG)
    third = make_fleet(1, "third", access_point=first.access_point)
    qtbot.waitUntil(lambda: seen.result(third.urls[0]) is not None, timeout=WAIT_MS)

    for url in (second.urls[0], third.urls[0]):
        assert seen.result(url).outcome is Outcome.PASS, seen.lines(url)  # type: ignore[union-attr]
    flashed = [
        next(line for line in seen.lines(u) if "✓ flash:" in line) for u in (second.urls[0], third.urls[0])
    ]
    assert "at 230400 baud" not in flashed[0] and "at 230400 baud" in flashed[1], flashed
    with RecordsDB(station.data_dir.records_db) as records:
        by_port = {r.port: r for r in records.iterate()}
    assert by_port[third.urls[0]].image_sha256s != by_port[second.urls[0]].image_sha256s, "the new IEF"
    assert service.production == armed, "still armed: nothing had to be left and armed again"
    password = first.access_point.password.encode()
    for path in station.data_dir.root.rglob("*"):
        if path.is_file() and "boards-" not in str(path):  # the boards' own flash holds it, as a board's
            assert password not in path.read_bytes(), path


def test_a_request_never_shows_its_password() -> None:
    request = RunRequest(TASK, BATCH, "lab", "lab-password-1", confirm_release=BATCH)
    assert "lab-password-1" not in repr(request) and "lab-password-1" not in str(request)
    assert f"password={MASK!r}" in repr(request) and f"confirm_release={BATCH!r}" in repr(request)
    assert "password=''" in repr(RunRequest(TASK, BATCH, "open", ""))
