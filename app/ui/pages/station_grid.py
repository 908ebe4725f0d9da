"""The Station page's tiles: a grid that reflows to the width it is given, inside a scroll area.

One port or thirty-two: the number of columns is whatever fits, so a narrow window shows one column
and a wide one shows many, and the page scrolls vertically only.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QGridLayout, QLayout, QScrollArea, QWidget

from app.ui.widgets.port_tile import TILE_HEIGHT, TILE_WIDTH, PortTile

SPACING = 10


def natural_key(text: str) -> list[object]:
    """'sim-2' before 'sim-10'."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


class TileGrid(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.tiles: dict[str, PortTile] = {}
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(SPACING)
        self._layout.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        # The width comes from the scroll area, not from the tiles: otherwise the grid could never get
        # narrower than its current columns and would not reflow when the drawer opens.
        self._layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self.setMinimumWidth(TILE_WIDTH)
        self._columns = 0
        self._order: list[str] = []

    def columns_for(self, width: int) -> int:
        return max(1, (width + SPACING) // (TILE_WIDTH + SPACING))

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

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._reflow()

    def _reflow(self, force: bool = False) -> None:
        columns = self.columns_for(self.width())
        if columns == self._columns and not force:
            return
        self._columns = columns
        self._order = sorted(self.tiles, key=lambda p: natural_key(self.tiles[p].title.text()))
        for tile in self.tiles.values():
            self._layout.removeWidget(tile)
        for index, port in enumerate(self._order):
            self._layout.addWidget(self.tiles[port], index // columns, index % columns)
        rows = (len(self._order) + columns - 1) // columns
        self.setMinimumHeight(max(0, rows * (TILE_HEIGHT + SPACING) - SPACING))


def tile_scroll_area(grid: TileGrid) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setWidget(grid)
    return area
