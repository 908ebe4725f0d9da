"""Tiles, their grid and the session counters, drawn from snapshots as the station worker sends them."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import QRect, QSize
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from app.provisioning.events import Outcome, Step
from app.ui.pages.station_counters import SessionCounters
from app.ui.pages.station_grid import TileGrid, natural_key, tile_scroll_area
from app.ui.widgets.port_tile import (
    BADGES,
    MIN_TILE_HEIGHT,
    MIN_TILE_WIDTH,
    TILE_HEIGHT,
    TILE_WIDTH,
    PortTile,
    elapsed_text,
)
from app.workers.port_states import ImageProgress, PortResult, PortSnapshot, PortState, Reached

DEVICE_ID = "3f2a" + "0" * 56 + "9c1d"
RUNNING = PortSnapshot(
    port="rfc2217://127.0.0.1:4001",
    run=1,
    state=PortState.RUNNING,
    step=Step.FLASH,
    reached=Reached.at(Step.FLASH, 0.28 / 0.66),  # 40% of the whole bar
    image=ImageProgress("ief", 2, 3, 0.4),
    stopped_at=None,
    refused=False,
    started_mono=None,
    duration_s=None,
    chip="ESP32-C3",
    mac="02:51:aa",
    device_id="",
    message="",
    errors=(),
    new_log=(),
    new_console=(),
)


@pytest.mark.parametrize("state", list(PortState))
def test_every_state_has_its_own_word_not_only_a_colour(state: PortState) -> None:
    background, _foreground, word = BADGES[state]
    words = [w for _b, _f, w in BADGES.values()]
    assert words.count(word) == 1 and word.strip()
    assert state.value.upper() in word.upper()
    assert [b for b, _f, _w in BADGES.values()].count(background) == 1


def test_a_tile_shows_running_then_pass_with_the_device_id(qtbot: QtBot) -> None:
    tile = PortTile(RUNNING.port, "sim-1")
    qtbot.addWidget(tile)
    tile.show_snapshot(RUNNING)
    assert tile.badge.text == "RUNNING  40%"
    assert tile.progress.value() == 400
    assert tile.step.text() == "Flashing ief (3/3) · 40%"
    assert tile.chip.text() == "ESP32-C3"
    assert tile.cancel_button.isEnabled() and not tile.retry_button.isEnabled()
    assert not tile.copy_button.isEnabled()

    passed = replace(
        RUNNING,
        state=PortState.PASS,
        reached=Reached.at(Step.DONE, 1.0),
        stopped_at=Step.DONE,
        duration_s=75.2,
        device_id=DEVICE_ID,
    )
    tile.show_snapshot(passed)
    assert tile.badge.text == "✓  PASS"
    assert tile.step.text() == "Provisioned" and tile.progress.value() == 1000
    assert tile.elapsed.text() == "1:15"
    assert tile.device_label.text() == "ID 3f2a0000…009c1d" and tile.device_label.toolTip() == DEVICE_ID
    assert tile.copy_button.isEnabled() and tile.retry_button.isEnabled()
    assert not tile.cancel_button.isEnabled()


def test_a_failed_tile_says_why(qtbot: QtBot) -> None:
    tile = PortTile(RUNNING.port, "sim-1")
    qtbot.addWidget(tile)
    failed = replace(
        RUNNING,
        state=PortState.FAIL,
        stopped_at=Step.FLASH,
        message="the board vanished at 0x10000",
        duration_s=3.0,
    )
    tile.show_snapshot(failed)
    assert tile.badge.text == "✗  FAIL"
    assert tile.step.text().startswith("Failed while flashing: the board")
    assert "the board vanished at 0x10000" in tile.step.toolTip()


def test_elapsed_time_reads_minutes_and_seconds() -> None:
    assert [elapsed_text(s) for s in (0, 9.9, 61, 3600)] == ["0:00", "0:09", "1:01", "60:00"]


def test_ports_sort_naturally() -> None:
    assert sorted(["sim-10", "sim-2", "sim-1"], key=natural_key) == ["sim-1", "sim-2", "sim-10"]


@pytest.mark.parametrize("count", [1, 4, 16, 32, 64])
@pytest.mark.parametrize("width", [MIN_TILE_WIDTH + 30, 820, 1500])
def test_the_grid_reflows_without_overlap_or_clipping(qtbot: QtBot, count: int, width: int) -> None:
    grid = TileGrid()
    area = tile_scroll_area(grid)
    qtbot.addWidget(area)
    for i in range(count):
        grid.add(PortTile(f"rfc2217://127.0.0.1:{5000 + i}", f"sim-{i + 1}"))
    area.resize(width, 700)
    area.show()
    qtbot.waitExposed(area)
    qtbot.waitUntil(lambda: grid.layout().geometry().width() > 0)
    grid.layout().activate()
    rects: list[QRect] = [t.geometry() for t in grid.ordered()]
    columns = grid.columns
    assert [t.title.text() for t in grid.ordered()] == [f"sim-{i + 1}" for i in range(count)]
    assert len({r.top() for r in rects}) == (count + columns - 1) // columns, "rows follow the columns"
    assert all(r.right() < area.viewport().width() for r in rects), "no tile is cut off on the right"
    assert all(not a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1 :])
    size = grid.tile_size
    assert all((r.width(), r.height()) == (size.width(), size.height()) for r in rects)
    assert MIN_TILE_WIDTH <= size.width() <= TILE_WIDTH and MIN_TILE_HEIGHT <= size.height() <= TILE_HEIGHT
    if rects[-1].bottom() > 700:
        assert area.verticalScrollBar().maximum() > 0, "what does not fit scrolls"


@pytest.mark.parametrize(("count", "width", "height"), [(64, 1440, 830), (16, 800, 480)])
def test_tiles_shrink_to_the_compact_form_so_a_line_fits_without_scrolling(
    qtbot: QtBot, count: int, width: int, height: int
) -> None:
    """The tile area of a 1920×1080 window holds 64 ports, that of a 1280×800 one 16."""
    grid = TileGrid()
    area = tile_scroll_area(grid)
    qtbot.addWidget(area)
    for i in range(count):
        grid.add(PortTile(f"rfc2217://127.0.0.1:{5000 + i}", f"sim-{i + 1}"))
    area.resize(width, height)
    area.show()
    qtbot.waitExposed(area)
    grid.layout().activate()
    assert area.verticalScrollBar().maximum() == 0
    assert all(t.geometry().bottom() < height for t in grid.ordered())
    assert all(t.compact and not t.button_row.isVisible() for t in grid.ordered())
    assert all(t.step.isVisible() and t.badge.isVisible() for t in grid.ordered())


def test_a_few_ports_get_full_tiles_with_their_buttons(qtbot: QtBot) -> None:
    grid = TileGrid()
    area = tile_scroll_area(grid)
    qtbot.addWidget(area)
    for i in range(4):
        grid.add(PortTile(f"p{i}", f"sim-{i + 1}"))
    area.resize(1000, 600)
    area.show()
    qtbot.waitExposed(area)
    assert grid.tile_size == QSize(TILE_WIDTH, TILE_HEIGHT)
    assert all(not t.compact and t.retry_button.isVisible() for t in grid.ordered())


def test_the_grid_reflows_when_it_narrows(qtbot: QtBot) -> None:
    grid = TileGrid()
    area = tile_scroll_area(grid)
    holder = QWidget()
    area.setParent(holder)
    qtbot.addWidget(holder)
    for i in range(6):
        grid.add(PortTile(f"p{i}", f"sim-{i + 1}"))
    area.resize(1200, 400)
    holder.show()
    qtbot.waitUntil(lambda: len({t.geometry().top() for t in grid.ordered()}) == 2)
    area.resize(MIN_TILE_WIDTH + 30, 400)
    qtbot.waitUntil(lambda: len({t.geometry().top() for t in grid.ordered()}) == 6)


def _result(outcome: Outcome) -> PortResult:
    return PortResult("p", 1, outcome, 1.0, "", "", "")


def test_counters_count_each_outcome_and_rate_passed_boards_per_hour() -> None:
    counters = SessionCounters()
    assert counters.boards_per_hour(running=False) is None
    counters.started(now=1000.0)
    for outcome, at in ((Outcome.PASS, 1010.0), (Outcome.PASS, 1020.0), (Outcome.FAIL, 1030.0)):
        counters.finished(_result(outcome), now=at)
    counters.finished(_result(Outcome.CANCELLED), now=1040.0)
    assert (counters.passed, counters.failed, counters.cancelled) == (2, 1, 1)
    assert counters.boards_per_hour(running=False) == 120.0, "under a minute counts as a minute"
    counters.finished(_result(Outcome.PASS), now=1000.0 + 1800)
    assert counters.boards_per_hour(running=False) == 6.0
    assert counters.boards_per_hour(running=True, now=1000.0 + 3600) == 3.0


def test_the_tile_words_a_prepared_a_refused_and_a_stepping_port(qtbot: QtBot) -> None:
    """The worker sends typed state; the tile's words for it are the window's."""
    tile = PortTile(RUNNING.port, "sim-1")
    qtbot.addWidget(tile)
    tile.show_snapshot(replace(RUNNING, state=PortState.PREPARING, step=None, reached=None, image=None))
    assert (tile.step.text(), tile.badge.text) == ("Preparing the job…", "PREPARING")
    tile.show_snapshot(replace(RUNNING, image=None, step=Step.IEF, reached=Reached.at(Step.IEF)))
    assert (tile.step.text(), tile.badge.text) == ("Enrolling (IEF)", "RUNNING  83%")
    refused = replace(RUNNING, state=PortState.READY, refused=True, reached=None, message="no such task")
    tile.show_snapshot(refused)
    assert tile.step.text() == "Not started: no such task"
    cancelled = replace(RUNNING, state=PortState.CANCELLED, stopped_at=Step.DONE)
    tile.show_snapshot(cancelled)
    assert tile.step.text() == "Cancelled"
