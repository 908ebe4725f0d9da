"""Choose which columns a table shows: a "Columns" button and the header's context menu, one menu."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QTableView, QToolButton


class ColumnChooser(QToolButton):
    def __init__(self, view: QTableView, hidden: Iterable[int] = ()) -> None:
        super().__init__()
        self.setText("Columns")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self._view = view
        self.menu_ = QMenu(self)
        model = view.model()
        hidden_set = set(hidden)
        self.actions_: list[QAction] = []
        for column in range(model.columnCount()):
            title = str(model.headerData(column, Qt.Orientation.Horizontal))
            action = QAction(title, self.menu_)
            action.setCheckable(True)
            action.setChecked(column not in hidden_set)
            action.toggled.connect(lambda shown, c=column: self.set_column_shown(c, shown))
            self.menu_.addAction(action)
            self.actions_.append(action)
            view.setColumnHidden(column, column in hidden_set)
        self.setMenu(self.menu_)
        header = view.horizontalHeader()
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)

    def set_column_shown(self, column: int, shown: bool) -> None:
        if not shown and self._shown_count() <= 1:
            self.actions_[column].setChecked(True)  # never hide the last column
            return
        self._view.setColumnHidden(column, not shown)
        if self.actions_[column].isChecked() != shown:
            self.actions_[column].setChecked(shown)

    def _shown_count(self) -> int:
        return sum(not self._view.isColumnHidden(c) for c in range(len(self.actions_)))

    def _header_menu(self, point: QPoint) -> None:
        self.menu_.popup(self._view.horizontalHeader().mapToGlobal(point))
