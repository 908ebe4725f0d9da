"""A station for the engine tests: a real local instance with a key, tasks and batches, virtual boards on
loopback, real port-worker subprocesses, and a listener that keeps every event the supervisor reports.
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.cli import main as cli_main
from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, IefKind, KeyType
from app.instance.local.instance import LocalInstance
from app.provisioning import supervisor as supervisor_module
from app.provisioning.events import Event
from app.provisioning.job import PortJob
from app.provisioning.records import RecordsDB
from app.provisioning.supervisor import PortSummary, Supervisor
from app.sim.faults import Faults
from app.sim.fleet import SimFleet
from app.system.paths import DataDir

KEY = "station-key"
DEV_TASK = "dev-c3"
RELEASE_TASK = "release-c3"
S3_TASK = "dev-s3"


@dataclass(frozen=True)
class Station:
    data_dir: DataDir
    key_digest_hex: str


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Station:
    """One instance per test module (an RSA-3072 key takes a while): a key and three tasks."""
    data_dir = DataDir(tmp_path_factory.mktemp("station")).ensure()
    with LocalInstance.open(data_dir.local_instance_db) as instance:
        key = instance.create_signing_key(KEY, KeyType.RSA_3072)
        instance.create_task(DEV_TASK, ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, KEY)
        instance.create_task(RELEASE_TASK, ChipType.ESP32C3, BootloaderKind.RELEASE, IefKind.NON_DEBUG, KEY)
        instance.create_task(S3_TASK, ChipType.ESP32S3, BootloaderKind.DEV, IefKind.DEBUG, KEY)
    return Station(data_dir, key.key_digest_hex)


@pytest.fixture
def instance(station: Station) -> Iterator[LocalInstance]:
    with LocalInstance.open(station.data_dir.local_instance_db) as opened:
        yield opened


@pytest.fixture
def batch(instance: LocalInstance) -> str:
    return instance.create_batch(f"batch-{secrets.token_hex(4)}").name


@pytest.fixture
def records(tmp_path: Path) -> Iterator[RecordsDB]:
    with RecordsDB(tmp_path / "records.sqlite3") as db:
        yield db


FleetFactory = Callable[..., SimFleet]


@pytest.fixture
def make_fleet(tmp_path: Path) -> Iterator[FleetFactory]:
    """Start virtual boards (pacing off unless asked); every fleet is closed when the test ends."""
    fleets: list[SimFleet] = []

    def start(
        count: int = 1,
        *,
        chip: ChipType = ChipType.ESP32C3,
        faults: Sequence[Faults | None] = (),
        pacing: bool = False,
        registry: Path | None = None,
    ) -> SimFleet:
        fleet = SimFleet(
            tmp_path / f"boards-{len(fleets)}",
            count=count,
            chip=chip,
            pacing=pacing,
            faults=faults,
            registry=registry,
        )
        fleets.append(fleet)
        return fleet

    yield start
    for fleet in fleets:
        fleet.close()


def port_worker_registered() -> bool:
    return any(module.__name__ == "app.cli.port_worker_cmd" for module in cli_main.COMMAND_MODULES)


@pytest.fixture(autouse=True)
def worker_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m app port-worker` once the lead registers it; the worker module itself until then."""
    if not port_worker_registered():
        monkeypatch.setattr(
            supervisor_module,
            "worker_command",
            lambda: [sys.executable, "-m", "app.provisioning.port_worker"],
        )


def child_pids() -> set[int]:
    """Live child processes of this test process (Linux /proc; empty elsewhere)."""
    me = str(os.getpid())
    found: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


@pytest.fixture(autouse=True)
def nothing_left_behind() -> Iterator[None]:
    """No worker process and no thread started by a test may outlive it."""
    threads_before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while True:
        extra_threads = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
        children = child_pids()
        if not extra_threads and not children:
            return
        if time.monotonic() > deadline:
            names = [t.name for t in extra_threads]
            raise AssertionError(f"left behind: threads {names}, child processes {sorted(children)}")
        time.sleep(0.05)


@dataclass
class Collector:
    """A SupervisorListener that keeps everything, for assertions."""

    events: list[Event] = field(default_factory=list)
    finished: list[PortSummary] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_event(self, event: Event) -> None:
        with self.lock:
            self.events.append(event)

    def on_finished(self, summary: PortSummary) -> None:
        with self.lock:
            self.finished.append(summary)

    def of_port(self, port: str) -> list[Event]:
        with self.lock:
            return [e for e in self.events if e.port == port]


def run_jobs(
    instance: object, records: RecordsDB, jobs: Sequence[PortJob], timeout: float = 120
) -> tuple[Collector, dict[str, PortSummary]]:
    """Provision every job at once through a real Supervisor; return what it reported, by port."""
    collector = Collector()
    supervisor = Supervisor(instance, records, collector)  # type: ignore[arg-type]
    try:
        for job in jobs:
            supervisor.start(job)
        assert supervisor.wait(timeout), "the supervisor did not finish in time"
    finally:
        supervisor.close()
    return collector, {s.port: s for s in collector.finished}
