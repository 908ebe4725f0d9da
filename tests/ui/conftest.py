"""Fixtures for the window and its pages: a real local instance in tmp_path, preferences in a tmp INI file.

Every test here fails on Qt warnings and on background calls still running at its end. Teardown order
matters: first the thread pool is drained and pending results are delivered (while the widgets still
exist), then the instance is closed, then pytest-qt closes the widgets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, QThreadPool
from pytestqt.qtbot import QtBot

from app.domain.kinds import Role
from app.instance.api import Instance
from app.instance.local.instance import LocalInstance
from app.sim.fleet import SimFleet
from app.system.keyring_store import KeyringStore
from app.system.paths import DataDir
from app.ui.main_window import MainWindow
from app.ui.models.station_log import StationLogModel
from app.ui.pages.context import PageContext
from app.ui.pages.station import StationPage
from app.ui.settings import StationSettings
from tests.support.line_tasks import create_line_tasks
from tests.ui.pool_drain import WAIT_MS, drain_pool
from tests.ui.station_support import BATCH, RELEASE_TASK, TASK, FleetFactory

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))
            item.add_marker(pytest.mark.qt_log_ignore("propagateSizeHints"))


@pytest.fixture(autouse=True)
def no_leaked_threads(qapp: Any) -> Iterator[None]:
    yield
    assert QThreadPool.globalInstance().waitForDone(WAIT_MS), "a background call outlived its test"
    assert QThreadPool.globalInstance().activeThreadCount() == 0


class Instances:
    """Opens handles on one local instance database; drains the pool before closing them."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "instance" / "local.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.opened: list[LocalInstance] = []

    def __call__(self, actor: str | None = None) -> LocalInstance:
        instance = LocalInstance.open(self.path, actor=actor)
        self.opened.append(instance)
        return instance

    def close(self) -> None:
        drain_pool()
        for instance in self.opened:
            instance.close()


@pytest.fixture
def instances(tmp_path: Path, qapp: Any) -> Iterator[Instances]:
    factory = Instances(tmp_path)
    yield factory
    factory.close()


@pytest.fixture
def instance(instances: Instances) -> LocalInstance:
    """The built-in administrator's handle on a fresh local instance."""
    return instances()


@pytest.fixture
def settings(tmp_path: Path) -> StationSettings:
    return StationSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def make_context(tmp_path: Path, settings: StationSettings) -> Callable[[Instance], PageContext]:
    def make(instance: Instance) -> PageContext:
        return PageContext(
            instance=instance,
            info=instance.info(),
            settings=settings,
            keyring=KeyringStore(),
            station_log=StationLogModel(),
            data_dir=tmp_path / "station-data",
        )

    return make


@pytest.fixture
def context(instance: LocalInstance, make_context: Callable[[Instance], PageContext]) -> PageContext:
    return make_context(instance)


@pytest.fixture
def window(qtbot: QtBot, context: PageContext) -> Iterator[MainWindow]:
    main = MainWindow(context)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    yield main
    for page in main.pages:  # what a test left running stops here, not in a close the window would ask about
        page.shutdown()
    drain_pool()


@pytest.fixture
def contributor_instance(instances: Instances, instance: LocalInstance) -> LocalInstance:
    """A handle acting as the contributor 'carol' (created by the administrator)."""
    instance.create_user("carol", "carol-password-1", Role.CONTRIBUTOR)
    return instances(actor="carol")


# --- the Station page's tests (test_station_*.py): a ready instance, virtual boards, the page ---
@pytest.fixture
def ready(instance: LocalInstance) -> LocalInstance:
    create_line_tasks(instance, TASK, RELEASE_TASK)
    instance.create_batch(BATCH)
    return instance


@pytest.fixture
def make_fleet(context: PageContext) -> Iterator[FleetFactory]:
    """Virtual boards registered in the page's data folder; closed after the page (qtbot closes it first)."""
    fleets: list[SimFleet] = []
    data = DataDir(context.data_dir)

    def start(count: int, prefix: str = "sim", **kw: object) -> SimFleet:
        fleet = SimFleet(
            data.root / f"boards-{prefix}",
            count=count,
            pacing=False,
            registry=data.sim_registry,
            name_prefix=prefix,
            **kw,  # type: ignore[arg-type]
        )
        fleets.append(fleet)
        return fleet

    yield start
    for fleet in fleets:
        fleet.close()


@pytest.fixture
def page(qtbot: QtBot, ready: LocalInstance, context: PageContext) -> Iterator[StationPage]:
    station = StationPage(context, flush_ms=50, scan_ms=100)
    qtbot.addWidget(station)
    station.resize(1200, 800)
    station.show()
    yield station
    station.shutdown()
    drain_pool()
