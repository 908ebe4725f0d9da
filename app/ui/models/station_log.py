"""The station's own log as a bounded table, and the level/pattern filter in front of it.

Lines arrive in batches from `LogRelay` (app/workers/log_relay.py). The model keeps the newest
`capacity` lines: when a batch would overflow it, the oldest rows are removed first, so memory and the
view's row count stay flat through a whole shift (Picard's TailLogger + logviewmodel).
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor

from app.ui.models.table_model import ROOT, HeaderedTableModel, Index
from app.workers.log_relay import LogLine

DEFAULT_CAPACITY = 5_000
HEADERS = ("Time", "Level", "Source", "Message")
LEVEL_ROLE = Qt.ItemDataRole.UserRole + 1
_LEVEL_COLOURS = {logging.WARNING: QColor("#ef6c00"), logging.ERROR: QColor("#c62828")}


class StationLogModel(HeaderedTableModel):
    headers = HEADERS

    def __init__(self, capacity: int = DEFAULT_CAPACITY, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.capacity = capacity
        self._lines: deque[LogLine] = deque()

    def append_lines(self, lines: Sequence[LogLine]) -> None:
        """Add a batch of lines (the relay's `lines_ready` slot)."""
        if not lines:
            return
        lines = list(lines)[-self.capacity :]
        overflow = len(self._lines) + len(lines) - self.capacity
        if overflow > 0:
            self.beginRemoveRows(QModelIndex(), 0, overflow - 1)
            for _ in range(overflow):
                self._lines.popleft()
            self.endRemoveRows()
        first = len(self._lines)
        self.beginInsertRows(QModelIndex(), first, first + len(lines) - 1)
        self._lines.extend(lines)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._lines.clear()
        self.endResetModel()

    def line(self, row: int) -> LogLine:
        return self._lines[row]

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._lines)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        line = self._lines[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return datetime.fromtimestamp(line.created).strftime("%H:%M:%S.%f")[:-3]
            if column == 1:
                return line.level_name
            if column == 2:
                return line.logger
            return line.message.splitlines()[0] if line.message else ""
        if role == Qt.ItemDataRole.ToolTipRole and column == 3:
            return line.message
        if role == Qt.ItemDataRole.ForegroundRole and column in (1, 3):
            return _LEVEL_COLOURS.get(line.level if line.level < logging.ERROR else logging.ERROR)
        if role == LEVEL_ROLE:
            return line.level
        return None


class StationLogFilter(QSortFilterProxyModel):
    """Keeps lines at or above `min_level` whose source or message matches `pattern` (a regex)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._min_level = logging.DEBUG
        self._pattern: re.Pattern[str] | None = None

    def set_min_level(self, level: int) -> None:
        self.beginFilterChange()
        self._min_level = level
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_pattern(self, text: str) -> str:
        """Use `text` as a case-insensitive regex; returns '' or why it is not a valid pattern.

        An invalid pattern leaves the previous filter in place, so typing half a pattern does not
        empty the view.
        """
        try:
            pattern = re.compile(text, re.IGNORECASE) if text else None
        except re.error as exc:
            return f"not a valid pattern: {exc}"
        self.beginFilterChange()
        self._pattern = pattern
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        return ""

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        assert isinstance(model, StationLogModel)
        line = model.line(source_row)
        if line.level < self._min_level:
            return False
        if self._pattern is None:
            return True
        return bool(self._pattern.search(line.message) or self._pattern.search(line.logger))
