"""What the Station page tests share besides their fixtures (tests/ui/conftest.py): names and waits."""

from __future__ import annotations

from collections.abc import Callable

from pytestqt.qtbot import QtBot

from app.provisioning.run_request import RunRequest
from app.sim.fleet import SimFleet
from app.ui.pages.station import StationPage
from app.ui.widgets.port_tile import PortTile
from app.workers.port_states import PortState

TASK, RELEASE_TASK, BATCH = "c3-dev", "c3-release", "line-1"
WAIT_MS = 60_000
FleetFactory = Callable[..., SimFleet]


def wait_listed(qtbot: QtBot, page: StationPage, urls: list[str]) -> None:
    qtbot.waitUntil(
        lambda: set(urls) <= set(page.ports) and set(urls) <= set(page.grid.tiles), timeout=WAIT_MS
    )


def tile(page: StationPage, url: str) -> PortTile:
    return page.grid.tiles[url]


def wait_state(qtbot: QtBot, page: StationPage, url: str, state: PortState) -> None:
    qtbot.waitUntil(lambda: url in page.grid.tiles and tile(page, url).state is state, timeout=WAIT_MS)


def request_for(fleet: SimFleet, task: str = TASK) -> RunRequest:
    return RunRequest(task, BATCH, fleet.access_point.ssid, fleet.access_point.password)
