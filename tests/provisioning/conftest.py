"""A station for the engine tests: a real local instance with a key, tasks and batches, virtual boards on
loopback, real port-worker subprocesses, and a listener that keeps every event the supervisor reports.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, IefKind, KeyType
from app.domain.run_options import TaskRunOptions
from app.instance.local.instance import LocalInstance
from app.provisioning.events import Event
from app.provisioning.job import PortJob
from app.provisioning.records import RecordsDB
from app.provisioning.supervisor import PortSummary, Supervisor
from app.provisioning.worker_launch import WorkerLauncher
from app.sim.faults import Faults
from app.sim.fleet import SimFleet
from app.system.paths import DataDir

NO_ENROL_WAIT = TaskRunOptions(enrol_wait_s=0)  # these runs are not about enrolment

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
        instance.create_task(
            DEV_TASK, ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, KEY, run_options=NO_ENROL_WAIT
        )
        instance.create_task(
            RELEASE_TASK,
            ChipType.ESP32C3,
            BootloaderKind.RELEASE,
            IefKind.NON_DEBUG,
            KEY,
            run_options=NO_ENROL_WAIT,
        )
        instance.create_task(
            S3_TASK, ChipType.ESP32S3, BootloaderKind.DEV, IefKind.DEBUG, KEY, run_options=NO_ENROL_WAIT
        )
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


@pytest.fixture(autouse=True)
def _no_leaks(nothing_left_behind: None) -> None:
    """Every engine test checks that no worker process or thread outlives it."""


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
    instance: object,
    records: RecordsDB,
    jobs: Sequence[PortJob],
    timeout: float = 120,
    launcher: WorkerLauncher | None = None,
) -> tuple[Collector, dict[str, PortSummary]]:
    """Provision every job at once through a real Supervisor; return what it reported, by port."""
    collector = Collector()
    supervisor = Supervisor(instance, records, collector, launcher=launcher)  # type: ignore[arg-type]
    try:
        for job in jobs:
            supervisor.start(job)
        assert supervisor.wait(timeout), "the supervisor did not finish in time"
    finally:
        supervisor.close()
    return collector, {s.port: s for s in collector.finished}
