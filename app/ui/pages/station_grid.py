"""The Station page's tiles: a grid that fills the space it is given, inside a scroll area.

The tiles share the visible area: the grid picks the number of columns that gives each tile the most
room, between the compact size (MIN_TILE_*) and the full size (TILE_*), and every tile takes that size.
So four boards show large tiles with buttons, and 64 compact ones fit a 1920×1080 screen (16 fit
1280×800) without scrolling. Only when even compact tiles do not fit does the page scroll, vertically.
"""

from __future__ import annotations

import math
import re

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QGridLayout, QLayout, QScrollArea, QWidget

from app.ui.widgets.port_tile import MIN_TILE_HEIGHT, MIN_TILE_WIDTH, TILE_HEIGHT, TILE_WIDTH, PortTile

SPACING = 8


def natural_key(text: str) -> list[object]:
    """'sim-2' before 'sim-10'."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def tile_layout(count: int, width: int, height: int) -> tuple[int, QSize]:
    """Columns and tile size for `count` tiles in `width`×`height`: the largest tiles that fit, or, when
    even compact tiles do not fit, as many compact columns as the width holds (the rest scrolls)."""
    if count <= 0:
        return 1, QSize(TILE_WIDTH, TILE_HEIGHT)
    best: tuple[int, int, int] | None = None  # (area, columns, tile height)
    for columns in range(1, count + 1):
        tile_w = (width - (columns - 1) * SPACING) // columns
        if tile_w < MIN_TILE_WIDTH and columns > 1:
            break
        rows = math.ceil(count / columns)
        tile_h = min(TILE_HEIGHT, (height - (rows - 1) * SPACING) // rows)
        if tile_h < MIN_TILE_HEIGHT:
            continue
        area = min(tile_w, TILE_WIDTH) * tile_h
        if best is None or area > best[0]:
            best = (area, columns, tile_h)
    if best is not None:
        _area, columns, tile_h = best
    else:
        columns = max(1, min(count, (width + SPACING) // (MIN_TILE_WIDTH + SPACING)))
        tile_h = MIN_TILE_HEIGHT
    tile_w = max(MIN_TILE_WIDTH, min(TILE_WIDTH, (width - (columns - 1) * SPACING) // columns))
    return columns, QSize(tile_w, tile_h)


class TileGrid(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.tiles: dict[str, PortTile] = {}
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(SPACING)
        self._layout.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        # The size comes from the scroll area's viewport, not from the tiles: otherwise the grid could
        # never get narrower than its current columns and would not reflow when the drawer opens.
        self._layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self.setMinimumWidth(MIN_TILE_WIDTH)
        self._shape: tuple[int, QSize] | None = None
        self._order: list[str] = []
        self.available = QSize(TILE_WIDTH, TILE_HEIGHT)

    @property
    def columns(self) -> int:
        return self._shape[0] if self._shape else 1

    @property
    def tile_size(self) -> QSize:
        return self._shape[1] if self._shape else QSize(TILE_WIDTH, TILE_HEIGHT)

    def add(self, tile: PortTile) -> None:
        self.tiles[tile.port] = tile
        self._reflow(force=True)

    def remove(self, port: str) -> None:
        tile = self.tiles.pop(port, None)
        if tile is not None:
            self._layout.removeWidget(tile)
            tile.deleteLater()
            self._reflow(force=True)

    def resort(self) -> None:
        """Put the tiles in order again (their titles may have changed)."""
        order = sorted(self.tiles, key=lambda p: natural_key(self.tiles[p].title.text()))
        if order != self._order:
            self._reflow(force=True)

    def ordered(self) -> list[PortTile]:
        return [self.tiles[port] for port in self._order]

    def fit(self, available: QSize) -> None:
        """The scroll area's viewport is `available` now."""
        if available != self.available:
            self.available = available
            self._reflow()

    def _reflow(self, force: bool = False) -> None:
        shape = tile_layout(len(self.tiles), self.available.width(), self.available.height())
        if shape == self._shape and not force:
            return
        self._shape = shape
        columns, size = shape
        self._order = sorted(self.tiles, key=lambda p: natural_key(self.tiles[p].title.text()))
        for tile in self.tiles.values():
            self._layout.removeWidget(tile)
        for index, port in enumerate(self._order):
            self.tiles[port].set_tile_size(size.width(), size.height())
            self._layout.addWidget(self.tiles[port], index // columns, index % columns)
        rows = (len(self._order) + columns - 1) // columns
        self.setMinimumHeight(max(0, rows * (size.height() + SPACING) - SPACING))


class TileArea(QScrollArea):
    """Tells its grid how much room the viewport has, so the tiles can fill it."""

    def __init__(self, grid: TileGrid) -> None:
        super().__init__()
        self.grid = grid
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setWidget(grid)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.grid.fit(self.viewport().size())


def tile_scroll_area(grid: TileGrid) -> TileArea:
    return TileArea(grid)
