"""What the Station page tests share besides their fixtures (tests/ui/conftest.py): names and waits."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.provisioning.run_request import RunRequest
from app.sim.faults import Faults, Stage
from app.sim.fleet import SimFleet
from app.ui.main_window import MainWindow
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


def provision_one_to_pass(qtbot: QtBot, page: StationPage, fleet: SimFleet) -> str:
    """Provision the fleet's first board from the page with the default task, until its tile says PASS."""
    url = fleet.urls[0]
    wait_listed(qtbot, page, fleet.urls)
    page.accept_provisioning_request(request_for(fleet))
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    wait_state(qtbot, page, url, PortState.PASS)
    return url


def boards_held_at_wifi(
    qtbot: QtBot, window: MainWindow, make_fleet: FleetFactory, count: int
) -> tuple[StationPage, list[str]]:
    """`count` virtual boards running on the window's Station page, each held at the WiFi step (so they
    stay running until stopped): what a close or a sign-out has to ask about."""
    fleet = make_fleet(count, faults=[Faults(stall_at_stage=Stage.WIFI)] * count)
    station = window.page("Station")
    assert isinstance(station, StationPage)
    window.show_page("Station")
    wait_listed(qtbot, station, fleet.urls)
    station.accept_provisioning_request(request_for(fleet))
    qtbot.mouseClick(station.start_button, Qt.MouseButton.LeftButton)
    for url in fleet.urls:
        qtbot.waitUntil(lambda u=url: tile(station, u).step.text().startswith("Enrolling"), timeout=WAIT_MS)
    return station, fleet.urls
