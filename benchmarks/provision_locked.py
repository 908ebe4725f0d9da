"""32 boards with the instance locked by another process, against the same 32 with it free.

Issue 9 saw a locked instance (another process holding its SQLite write lock) turn a ~3 s push phase
into 334 s: pushes made one board at a time, each waiting out the lock timeout, and the last boards
timed out as FAIL although their IDs had arrived. Now a board's outcome is the board's: every DeviceID
is journaled, the pusher finds the instance busy once and queues the rest at once, and delivers them
when the lock goes. This prints both wall times (first worker start to last result), how the IDs stood
when the boards finished, and how long delivery took once the lock was released.

    .venv/bin/python benchmarks/provision_locked.py [--boards 32] [--ief-kib 768]

The lock is held by a separate Python process (`BEGIN IMMEDIATE` on the instance file), as a second
station or an import would hold it. Goal: the locked run within 1.25x of the free one, every ID queued
at once and delivered when the lock goes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from provision_parallel import Finishes, Simulators
from provision_single import TASK, prepare_instance

from app.domain.records import PageRequest
from app.instance.local.instance import LocalInstance
from app.provisioning.device_journal import JournalState
from app.provisioning.events import Outcome
from app.provisioning.job_builder import provisioning_job
from app.provisioning.records import PushState, RecordsDB
from app.provisioning.supervisor import Supervisor
from app.provisioning.worker_launch import ForkServerLauncher, WorkerLauncher, fork_server_supported

HOLD_LOCK = (
    "import sqlite3, sys\n"
    "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "c.execute('BEGIN IMMEDIATE')\n"
    "print('locked', flush=True)\n"
    "sys.stdin.read()\n"
    "c.execute('ROLLBACK')\n"
)


class LockHolder:
    """Another process with the instance's write lock, until `release`."""

    def __init__(self, db: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != b"locked":
            raise SystemExit("could not lock the instance database")

    def release(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()


def run(
    instance: LocalInstance, db: Path, folder: Path, count: int, launcher: WorkerLauncher, locked: bool
) -> dict[str, float]:
    folder.mkdir()
    batch = instance.create_batch(f"bench-{'locked' if locked else 'free'}").name
    sim = Simulators(folder, count, 1)
    try:
        job = provisioning_job(instance, task=TASK, batch=batch, ssid=sim.ssid, password=sim.password)
        finishes = Finishes()
        with RecordsDB(folder / "records.sqlite3") as records:
            supervisor = Supervisor(instance, records, finishes, launcher=launcher)
            holder = LockHolder(db) if locked else None
            try:
                started = time.monotonic()
                supervisor.start_all([job.for_port(url) for url in sim.urls])
                supervisor.wait()
                wall = finishes.last - started
                queued = sum(1 for s in finishes.summaries if s.push_state is PushState.QUEUED)
                owed_at_end = records.journal.count(JournalState.JOURNALED, JournalState.QUEUED)
                delivered_after = 0.0
                if holder is not None:
                    released = time.monotonic()
                    holder.release()
                    holder = None
                    while _in_batch(instance, batch) < count:
                        if time.monotonic() - released > 120:
                            raise SystemExit("the queued IDs were not delivered within 120 s of the release")
                        time.sleep(0.05)
                    delivered_after = time.monotonic() - released
            finally:
                if holder is not None:
                    holder.release()
                supervisor.close()
            pushed_records = sum(1 for r in records.iterate() if r.push_state is PushState.PUSHED)
    finally:
        sim.stop()
    failed = [s for s in finishes.summaries if s.outcome is not Outcome.PASS]
    if failed or len(finishes.summaries) != count:
        example = f"{failed[0].port}: {failed[0].message}" if failed else "missing summaries"
        raise SystemExit(f"{len(failed)} of {count} board(s) failed, e.g. {example}")
    return {
        "wall": wall,
        "queued": queued,
        "owed_at_end": owed_at_end,
        "delivered_after": delivered_after,
        "in_batch": _in_batch(instance, batch),
        "pushed_records": pushed_records,
    }


def _in_batch(instance: LocalInstance, batch: str) -> int:
    return instance.list_devices(batch, PageRequest(limit=1)).total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", type=int, default=32)
    parser.add_argument("--ief-kib", type=int, default=768)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ql-bench-locked-") as tmp:
        folder = Path(tmp)
        instance = prepare_instance(folder, args.ief_kib)
        db = folder / "instance.sqlite3"
        launcher: WorkerLauncher = ForkServerLauncher() if fork_server_supported() else _command()
        if isinstance(launcher, ForkServerLauncher):
            launcher.wait_ready(60)
        try:
            free = run(instance, db, folder / "free", args.boards, launcher, locked=False)
            locked = run(instance, db, folder / "locked", args.boards, launcher, locked=True)
        finally:
            launcher.close()
            instance.close()
    print(f"{args.boards} paced virtual ESP32-C3 boards, instance free vs write-locked by another process\n")
    print(f"{'':>10}{'wall s':>10}{'queued':>10}{'owed':>8}{'in batch':>10}{'delivered':>12}{'records':>10}")
    for name, r in (("free", free), ("locked", locked)):
        delivered = f"{r['delivered_after']:.1f} s" if name == "locked" else "-"
        print(
            f"{name:>10}{r['wall']:>10.2f}{r['queued']:>10}{r['owed_at_end']:>8}{r['in_batch']:>10}"
            f"{delivered:>12}{r['pushed_records']:>10}"
        )
    print(f"\nlocked vs free, wall time: {locked['wall'] / free['wall']:.2f}x (goal <= 1.25x)")
    print("queued: boards whose result said queued; owed: journal entries not yet delivered at the end of")
    print("the run; delivered: seconds from releasing the lock until every ID was in the batch;")
    print(
        "records: records reading pushed at the end (a queued record turns pushed when its ID is delivered)"
    )
    return 0


def _command() -> WorkerLauncher:
    from app.provisioning.worker_launch import CommandLauncher

    return CommandLauncher()


if __name__ == "__main__":
    raise SystemExit(main())
