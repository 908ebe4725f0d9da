"""The fault matrix: every pipeline step x fault x N trials on virtual boards, and the promises checked.

For each cell, N boards are provisioned at once with the fault striking each of them at one point of
the pipeline (a rhythm that differs per board, where the fault has one), then the fault is cleared and
the same boards are provisioned again. Each trial is then judged on the station's promises:

- crash: a traceback or an internal error anywhere (worker stderr, events, a run with no result);
- lost DeviceID: the board was told "OK" for its ID (it went on to join WiFi) and the ID is neither in
  the batch nor in the journal;
- inconsistent record: a record whose push state disagrees with the journal and the batch, a record
  with no DeviceID for a board that gave one, or a pass with an ID that is not the board's;
- correct outcome: none of the above, and the board passed with its own ID or failed with a reason;
- retry: after the fault is gone the board passes with its own ID.

`benchmarks/fault_matrix.py` runs the whole matrix and prints the table (`make fault-matrix`);
tests/provisioning/test_fault_matrix.py runs a short profile of it in `make test`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, IefKind, KeyType
from app.domain.records import PageRequest
from app.domain.run_options import TaskRunOptions
from app.instance.local.instance import LocalInstance
from app.provisioning.device_journal import JournalState
from app.provisioning.events import ErrorEvent, Event, LogEvent, LogSource, Outcome
from app.provisioning.job import PortJob, Timeouts
from app.provisioning.job_builder import provisioning_job
from app.provisioning.records import PushState, RecordsDB
from app.provisioning.supervisor import PortSummary, Supervisor
from app.sim.board import BootMode
from app.sim.faults import Faults, Stage
from app.sim.fleet import SimFleet
from app.sim.run_context import Restart
from app.system.paths import DataDir
from tests.provisioning.sim_boards import board_device_id
from tests.support.held_lock import another_writer
from tests.support.small_disk import fill, small_disk

NO_ENROL_WAIT = TaskRunOptions(enrol_wait_s=0)  # these runs are not about enrolment

KEY, TASK = "matrix-key", "matrix-dev"
TIMEOUTS = Timeouts(detect=6, check=6, flash=30, boot=6, ief=6, network=3, overall=90)
STEP_OF = {
    Stage.SYNC: "detect",
    Stage.FLASH_DATA: "flash",
    Stage.BOOT: "boot",
    Stage.IEF_REQUEST: "ief",
    Stage.DEVICE_ID: "ief (ID)",
    Stage.WIFI: "ief (WiFi)",
}


@dataclass(frozen=True)
class Cell:
    fault: str
    stage: Stage | None = None  # where a board fault strikes; None for the station's own faults

    @property
    def step(self) -> str:
        return STEP_OF[self.stage] if self.stage is not None else "push"

    @property
    def name(self) -> str:
        return f"{self.step} x {self.fault}"


def full_matrix() -> list[Cell]:
    stages = list(STEP_OF)
    cells = [Cell("vanish", s) for s in stages] + [Cell("stall", s) for s in stages]
    cells += [Cell("corrupt-tx", s) for s in stages if s is not Stage.WIFI]
    cells += [Cell("corrupt-rx", s) for s in (Stage.SYNC, Stage.FLASH_DATA, Stage.IEF_REQUEST)]
    cells += [Cell("drop-tx", s) for s in (Stage.FLASH_DATA, Stage.IEF_REQUEST, Stage.DEVICE_ID)]
    cells += [Cell("drop-rx", s) for s in (Stage.FLASH_DATA, Stage.IEF_REQUEST)]
    cells += [Cell("reset", s) for s in (Stage.FLASH_DATA, Stage.IEF_REQUEST, Stage.WIFI)]
    cells += [Cell("station-kill", s) for s in (Stage.FLASH_DATA, Stage.WIFI)]
    cells += [Cell("instance-locked"), Cell("disk-full")]
    return cells


def short_matrix() -> list[Cell]:
    """One cell per kind of fault, where it hurts most: what `make test` runs."""
    return [
        Cell("vanish", Stage.WIFI),
        Cell("corrupt-tx", Stage.DEVICE_ID),
        Cell("reset", Stage.IEF_REQUEST),
        Cell("station-kill", Stage.WIFI),
        Cell("instance-locked"),
        Cell("disk-full"),
    ]


@dataclass
class CellResult:
    cell: Cell
    trials: int = 0
    correct: int = 0
    crashes: int = 0
    lost: int = 0
    inconsistent: int = 0
    retried_ok: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.crashes == self.lost == self.inconsistent == 0 and self.retried_ok == self.trials


def prepare_station(root: Path) -> DataDir:
    data_dir = DataDir(root).ensure()
    with LocalInstance.open(data_dir.local_instance_db) as instance:
        instance.create_signing_key(KEY, KeyType.RSA_3072)
        instance.create_task(
            TASK, ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, KEY, run_options=NO_ENROL_WAIT
        )
    return data_dir


class _Listener:
    def __init__(self, killed: bool = False) -> None:
        self.killed = killed  # the station was killed: it reported nothing
        self.events: list[Event] = []
        self.finished: list[PortSummary] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)

    def on_finished(self, summary: PortSummary) -> None:
        self.finished.append(summary)


# --- arming the faults ------------------------------------------------------------------------------
def _arm(board: Any, stage: Stage, action: Callable[[], None]) -> None:
    """Run `action` in the board's thread the first time it reaches `stage` from now on."""
    original = board._on_stage
    fired: list[bool] = []

    def on_stage(reached: Stage, ctx: Any) -> None:
        if reached is stage and not fired:
            fired.append(True)
            action()
        original(reached, ctx)

    board._on_stage = on_stage


def _arm_board(cell: Cell, board: Any, trial: int) -> None:
    faults: Faults = board.faults
    stage = cell.stage
    assert stage is not None
    rhythm = 23 + 6 * trial  # each trial's bytes are hit in another place
    if cell.fault == "vanish":
        faults.vanish_at_stage = stage
    elif cell.fault == "stall":
        faults.stall_at_stage, faults.stall_seconds = stage, float("inf")
    elif cell.fault == "corrupt-tx":
        _arm(board, stage, lambda: setattr(faults, "corrupt_tx_every", rhythm))
    elif cell.fault == "corrupt-rx":
        _arm(board, stage, lambda: setattr(faults, "corrupt_rx_every", rhythm))
    elif cell.fault == "drop-tx":
        _arm(board, stage, lambda: setattr(faults, "drop_tx_every", rhythm))
    elif cell.fault == "drop-rx":
        _arm(board, stage, lambda: setattr(faults, "drop_rx_every", rhythm))
    elif cell.fault == "reset":

        def brown_out() -> None:
            raise Restart(BootMode.FLASH, "rst:0xf (BROWNOUT_RST),boot:0xc (SPI_FAST_FLASH_BOOT)")

        _arm(board, stage, brown_out)


def _clear(fleet: SimFleet) -> None:
    """The fault is gone: every knob off, every board plugged in again."""
    for server in fleet.servers:
        faults = server.board.faults
        for name in ("corrupt_tx_every", "drop_tx_every", "corrupt_rx_every", "drop_rx_every"):
            setattr(faults, name, 0)
        faults.vanish_at_stage = faults.stall_at_stage = None
        if not server.plugged:
            server.replug()


# --- running one cell --------------------------------------------------------------------------------
def run_cell(data_dir: DataDir, cell: Cell, trials: int, work: Path) -> CellResult:
    started = time.monotonic()
    result = CellResult(cell, trials=trials)
    work.mkdir(parents=True, exist_ok=True)
    with SimFleet(work / "boards", count=trials, pacing=False, name_prefix=f"m{os.getpid()}") as fleet:
        _wait_powered_on(fleet)
        with LocalInstance.open(data_dir.local_instance_db) as instance:
            batch = instance.create_batch(f"matrix-{secrets.token_hex(4)}").name
            ap = fleet.access_point
            job = provisioning_job(instance, task=TASK, batch=batch, ssid=ap.ssid, password=ap.password)
            job = replace(job, timeouts=TIMEOUTS)
            joined_before = [board.stages.count(Stage.WIFI) for board in fleet.boards]
            if cell.fault == "station-kill":
                listener, records_path = _run_killed_station(data_dir, cell, fleet, batch, ap.password)
            else:
                listener, records_path = _run_in_process(instance, cell, fleet, job, work, data_dir)
            acked = [b.stages.count(Stage.WIFI) > n for b, n in zip(fleet.boards, joined_before, strict=True)]
            _clear(fleet)
            retry = _Listener()
            with RecordsDB(records_path) as records:
                _run(instance, records, retry, [job.for_port(url) for url in fleet.urls])
                _judge(result, instance, records, batch, fleet, acked, listener, retry)
    result.seconds = time.monotonic() - started
    return result


def _wait_powered_on(fleet: SimFleet) -> None:
    deadline = time.monotonic() + 10
    while not all(Stage.BOOT in board.stages for board in fleet.boards) and time.monotonic() < deadline:
        time.sleep(0.01)


def _run(
    instance: Any,
    records: RecordsDB,
    listener: _Listener,
    jobs: list[PortJob],
    while_running: contextlib.AbstractContextManager[None] | None = None,
) -> None:
    """Run the jobs to their results (with `while_running` in force), then let the pusher deliver."""
    supervisor = Supervisor(instance, records, listener)
    try:
        with while_running or contextlib.nullcontext():
            supervisor.start_all(jobs)
            supervisor.wait(TIMEOUTS.overall + 30)
        _settle(records)
    finally:
        supervisor.close()


def _settle(records: RecordsDB, seconds: float = 20.0) -> None:
    """Give the pusher time to deliver what it still holds (an instance that came back)."""
    deadline = time.monotonic() + seconds
    with contextlib.suppress(Exception):  # a full disk: nothing to wait for
        while records.journal.count(JournalState.JOURNALED, JournalState.QUEUED):
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)


def _run_in_process(
    instance: LocalInstance, cell: Cell, fleet: SimFleet, job: PortJob, work: Path, data_dir: DataDir
) -> tuple[_Listener, Path]:
    listener = _Listener()
    jobs = [job.for_port(url) for url in fleet.urls]
    records_path = work / "records.sqlite3"
    if cell.fault == "disk-full":
        with small_disk(work / "disk") as disk:
            with RecordsDB(disk / "records.sqlite3") as records:
                fill(disk)
                _run(instance, records, listener, jobs)
            (disk / "filler").unlink()  # space again: the same records file goes on
            with RecordsDB(disk / "records.sqlite3"):
                pass  # checkpoint its log into the file before it is copied off the small disk
            shutil.copy(disk / "records.sqlite3", records_path)
        return listener, records_path
    if cell.stage is not None:
        for trial, board in enumerate(fleet.boards):
            _arm_board(cell, board, trial)
    locked = another_writer(data_dir.local_instance_db) if cell.fault == "instance-locked" else None
    with RecordsDB(records_path) as records:
        _run(instance, records, listener, jobs, locked)
    return listener, records_path


def _run_killed_station(
    data_dir: DataDir, cell: Cell, fleet: SimFleet, batch: str, password: str
) -> tuple[_Listener, Path]:
    """`ql-station provision` in its own process, killed (SIGKILL) when the boards reach the stage."""
    argv = [sys.executable, "-m", "app", "--data-dir", str(data_dir.root), "provision", "--task", TASK]
    argv += ["--batch", batch, "--ssid", fleet.access_point.ssid, "--password-stdin", "--json"]
    for url in fleet.urls:
        argv += ["--port", url]
    quiet = subprocess.DEVNULL  # nobody reads it: a full pipe must not stall the station before its kill
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=quiet, stderr=quiet)
    assert process.stdin is not None
    process.stdin.write((password + "\n").encode())
    process.stdin.close()
    deadline = time.monotonic() + TIMEOUTS.overall
    target = cell.stage
    before = [board.stages.count(target) for board in fleet.boards]
    while time.monotonic() < deadline and process.poll() is None:
        if all(b.stages.count(target) > n for b, n in zip(fleet.boards, before, strict=True)):
            break
        time.sleep(0.005)
    process.kill()
    process.wait()
    time.sleep(1.0)  # its port workers see their station gone at their next event, and exit
    listener = _Listener(killed=True)
    with RecordsDB(data_dir.records_db) as records:  # the next station start finishes the journal
        records.journal.recover()
    return listener, data_dir.records_db


# --- judging -----------------------------------------------------------------------------------------
def _judge(
    result: CellResult,
    instance: LocalInstance,
    records: RecordsDB,
    batch: str,
    fleet: SimFleet,
    acked_in_first_run: list[bool],
    first: _Listener,
    retry: _Listener,
) -> None:
    """`acked_in_first_run`: the board went on to join WiFi, so it had been told "OK" for its ID."""
    in_batch = {d.device_id for d in instance.list_devices(batch, PageRequest(limit=1000)).items}
    journal = {e.device_id: e for e in records.journal.entries(limit=10_000)}
    all_records = [r for r in records.list_records(PageRequest(limit=1000, search=batch)).items]
    crashes = _crashes(first) | _crashes(retry)
    first_by_port = {s.port: s for s in first.finished}
    retry_by_port = {s.port: s for s in retry.finished}
    killed = first.killed
    for url, board, acked in zip(fleet.urls, fleet.boards, acked_in_first_run, strict=True):
        truth = board_device_id(board)
        notes: list[str] = []
        summary = first_by_port.get(url)
        if summary is None and not killed:
            notes.append("no result")
        crashed = url in crashes or (summary is None and not killed)
        lost = acked and truth is not None and truth not in in_batch and truth not in journal
        wrong = summary is not None and summary.outcome is Outcome.PASS and summary.device_id != truth
        unnamed = summary is not None and acked and truth is not None and not summary.device_id
        if wrong:
            notes.append(f"passed with {summary.device_id[:12]}..., not its own ID")  # type: ignore[union-attr]
        if unnamed:
            notes.append("a board that gave its ID has a result without it")
        inconsistent = wrong or unnamed
        again = retry_by_port.get(url)
        retried = (
            again is not None and again.outcome is Outcome.PASS and again.device_id == board_device_id(board)
        )
        if not retried:
            notes.append(f"retry: {again.message if again else 'no result'}"[:160])
        result.crashes += crashed
        result.lost += lost
        result.inconsistent += inconsistent
        result.retried_ok += retried
        result.correct += not (crashed or lost or inconsistent)
        result.notes += [f"{url}: {n}" for n in notes]
    bad_records = _records_disagree(all_records, journal, in_batch)
    result.inconsistent += len(bad_records)
    result.notes += bad_records


def _crashes(listener: _Listener) -> set[str]:
    """Ports where something broke instead of failing with a reason."""
    ports = {e.port for e in listener.events if _is_crash(e)}
    ports |= {s.port for s in listener.finished if "internal error" in s.message or "Traceback" in s.message}
    return ports


def _is_crash(event: Event) -> bool:
    if isinstance(event, LogEvent):
        return event.source is LogSource.WORKER and "Traceback" in event.text
    return isinstance(event, ErrorEvent) and event.kind in ("InternalError", "ProtocolError")


def _records_disagree(all_records: list[Any], journal: dict[str, Any], in_batch: set[str]) -> list[str]:
    problems = []
    for record in all_records:
        if not record.device_id:
            continue
        entry = journal.get(record.device_id)
        state = record.push_state
        if entry is None:
            problems.append(f"record {record.id}: DeviceID {record.device_id[:12]}... is not in the journal")
        elif state is PushState.PUSHED and record.device_id not in in_batch:
            problems.append(f"record {record.id}: says pushed, not in the batch")
        elif state is PushState.QUEUED and not entry.owed and entry.state is not JournalState.PUSHED:
            problems.append(f"record {record.id}: says queued, journal says {entry.state.value}")
        elif state is PushState.REFUSED and entry.state is not JournalState.REFUSED:
            problems.append(f"record {record.id}: says refused, journal says {entry.state.value}")
    return problems


def table(results: list[CellResult]) -> str:
    head = ("step", "fault", "trials", "correct", "crashes", "lost IDs", "inconsistent", "retry ok", "s")
    rows = [
        (r.cell.step, r.cell.fault, r.trials, r.correct, r.crashes, r.lost, r.inconsistent, r.retried_ok,
         f"{r.seconds:.1f}")
        for r in results
    ]  # fmt: skip
    totals = ("total", "", *(sum(getattr(r, k) for r in results) for k in
              ("trials", "correct", "crashes", "lost", "inconsistent", "retried_ok")),
              f"{sum(r.seconds for r in results):.0f}")  # fmt: skip
    widths = [max(len(str(row[i])) for row in (head, *rows, totals)) for i in range(len(head))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)) for row in (head, *rows)]
    lines.append("  ".join(str(v).ljust(w) for v, w in zip(totals, widths, strict=True)))
    return "\n".join(lines)


def as_json(results: list[CellResult]) -> str:
    return json.dumps([_cell_json(r) for r in results], indent=1)


def _cell_json(r: CellResult) -> dict[str, object]:
    counts = ("trials", "correct", "crashes", "lost", "inconsistent", "retried_ok", "notes")
    return {"step": r.cell.step, "fault": r.cell.fault, **{name: getattr(r, name) for name in counts}}
