"""Nothing a board gives is lost: the DeviceID journal under the faults that used to lose IDs.

Each test is one of the ways issue 9 saw a DeviceID lost (a board gone after its acknowledgement, an
instance locked by another process, a full disk, UART noise), run with real workers, virtual boards
and real SQLite files, and each checks the same promise: the ID is in the batch, queued, or refused
with a reason, and the record of the board names it.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest

from app.domain.records import PageRequest
from app.instance.local.instance import LocalInstance
from app.provisioning.device_journal import JournalState
from app.provisioning.events import LogEvent, Outcome, ResultEvent, Step
from app.provisioning.job import JobMode, Timeouts
from app.provisioning.job_builder import provisioning_job
from app.provisioning.records import PushState, RecordsDB
from app.provisioning.supervisor import Supervisor
from app.sim.faults import Stage
from app.sim.fleet import SimFleet
from tests.support.held_lock import another_writer
from tests.support.small_disk import fill, small_disk

from .conftest import DEV_TASK, Collector, FleetFactory, Station, run_jobs
from .sim_boards import board_device_id
from .test_supervisor import after_flash


def _job(instance: LocalInstance, batch: str, fleet: SimFleet, **changes: object):  # type: ignore[no-untyped-def]
    ap = fleet.access_point
    job = provisioning_job(instance, task=DEV_TASK, batch=batch, ssid=ap.ssid, password=ap.password)
    return replace(job, **changes)  # type: ignore[arg-type]


def _batch_ids(instance: LocalInstance, batch: str) -> set[str]:
    return {d.device_id for d in instance.list_devices(batch, PageRequest(limit=1000)).items}


def wait_for(condition, seconds: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def test_a_board_gone_after_its_ack_keeps_its_id(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory
) -> None:
    """Seen: unplugged while the station watched it join WiFi -> FAIL with an empty device_id, ID lost."""
    fleet = make_fleet(1)
    board = fleet.boards[0]
    with after_flash(board, lambda: setattr(board.faults, "vanish_at_stage", Stage.WIFI)):
        _events, summaries = run_jobs(
            instance, records, [_job(instance, batch, fleet).for_port(fleet.urls[0])]
        )
    summary = summaries[fleet.urls[0]]
    device_id = board_device_id(board)
    assert summary.outcome is Outcome.FAIL and summary.step is Step.IEF, summary.message
    assert summary.device_id == device_id and summary.push_state is PushState.PUSHED
    (record,) = records.list_records().items
    assert (record.device_id, record.push_state) == (device_id, PushState.PUSHED)
    assert _batch_ids(instance, batch) == {device_id}
    (entry,) = records.journal.entries()
    assert (entry.device_id, entry.state, entry.port) == (device_id, JournalState.PUSHED, fleet.urls[0])


def test_a_locked_instance_queues_every_id_at_once_and_gets_them_when_free(
    station: Station,
    batch: str,
    records: RecordsDB,
    make_fleet: FleetFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Seen: pushes made one board at a time, each waiting out the lock; boards timed out as FAIL."""
    monkeypatch.setenv("QL_STATION_BUSY_TIMEOUT_MS", "1500")
    fleet = make_fleet(4)
    collector = Collector()
    with LocalInstance.open(station.data_dir.local_instance_db) as instance:
        job = _job(instance, batch, fleet, timeouts=Timeouts(overall=60))
        supervisor = Supervisor(instance, records, collector)
        try:
            with another_writer(station.data_dir.local_instance_db):
                supervisor.start_all([job.for_port(url) for url in fleet.urls])
                assert supervisor.wait(60)
                summaries = {s.port: s for s in collector.finished}
                assert all(s.outcome is Outcome.PASS for s in summaries.values()), summaries
                assert {s.push_state for s in summaries.values()} == {PushState.QUEUED}
                assert all("queued" in s.message for s in summaries.values())
                assert _batch_ids(instance, batch) == set()
            expected = {board_device_id(board) for board in fleet.boards}
            assert wait_for(lambda: _batch_ids(instance, batch) == expected), "not delivered once unlocked"
        finally:
            supervisor.close()
    assert {r.push_state for r in records.list_records().items} == {PushState.PUSHED}
    assert records.journal.count(JournalState.JOURNALED, JournalState.QUEUED) == 0


def test_a_full_records_disk_refuses_the_id_before_the_board_hears_ok(
    instance: LocalInstance, batch: str, make_fleet: FleetFactory, tmp_path: Path
) -> None:
    """Seen: "database or disk is full" killed the port thread with a traceback; IDs gone."""
    fleet = make_fleet(1)
    job = _job(instance, batch, fleet).for_port(fleet.urls[0])
    with small_disk(tmp_path / "disk") as disk, RecordsDB(disk / "records.sqlite3") as records:
        fill(disk)
        events, summaries = run_jobs(instance, records, [job])
    summary = summaries[fleet.urls[0]]
    device_id = board_device_id(fleet.boards[0])
    assert summary.outcome is Outcome.FAIL and summary.step is Step.IEF, summary.message
    assert f"DeviceID {device_id} was not acknowledged" in summary.message
    assert "full" in summary.message
    lines = [e.text for e in events.of_port(fleet.urls[0]) if isinstance(e, LogEvent)]
    assert not any(line.endswith("-> OK") for line in lines)  # the board was never told its ID was taken
    assert _batch_ids(instance, batch) == set()  # nothing pushed that the station could not account for
    results = [e for e in events.of_port(fleet.urls[0]) if isinstance(e, ResultEvent)]
    assert len(results) == 1 and "Traceback" not in results[0].message


def test_a_full_instance_disk_queues_the_id(
    station: Station, records: RecordsDB, make_fleet: FleetFactory, tmp_path: Path
) -> None:
    fleet = make_fleet(1)
    with LocalInstance.open(station.data_dir.local_instance_db) as instance:
        job = _job(instance, instance.create_batch("full-disk").name, fleet).for_port(fleet.urls[0])
    with small_disk(tmp_path / "disk") as disk:
        shutil.copy(station.data_dir.local_instance_db, disk / "local.sqlite3")
        with LocalInstance.open(disk / "local.sqlite3") as instance:
            fill(disk)
            _events, summaries = run_jobs(instance, records, [job])
    summary = summaries[fleet.urls[0]]
    assert summary.outcome is Outcome.PASS and summary.push_state is PushState.QUEUED, summary.message
    (entry,) = records.journal.outbox()
    assert entry.device_id == board_device_id(fleet.boards[0]) and "full" in entry.reason


def test_uart_bit_flips_never_pass_a_wrong_id(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory
) -> None:
    """Seen: 3 of 12 re-enrolled boards passed with a DeviceID one hex digit off theirs."""
    fleet = make_fleet(12)
    job = _job(instance, batch, fleet)
    _events, first = run_jobs(instance, records, [job.for_port(url) for url in fleet.urls])
    assert all(s.outcome is Outcome.PASS for s in first.values())
    for n, board in enumerate(fleet.boards):
        board.faults.corrupt_tx_every = 29 + 4 * n  # a different rhythm per board
    reenrol = replace(job, mode=JobMode.REENROL, timeouts=Timeouts(ief=4, network=2, overall=60))
    _events, again = run_jobs(instance, records, [reenrol.for_port(url) for url in fleet.urls])
    truth = {url: board_device_id(board) for url, board in zip(fleet.urls, fleet.boards, strict=True)}
    passed = [s for s in again.values() if s.outcome is Outcome.PASS]
    assert all(s.device_id == truth[s.port] for s in passed), "a board passed with a damaged DeviceID"
    damaged = [s for s in again.values() if "damaged on the UART" in s.message]
    assert damaged and all(s.device_id == "" for s in damaged)  # caught; never journaled, never pushed
    assert _batch_ids(instance, batch) == set(truth.values())  # and nothing else
