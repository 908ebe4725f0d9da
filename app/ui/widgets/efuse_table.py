"""The Board page's eFuse table: the chip's real eFuses, a veFuse build's virtual ones beside them.

A row whose virtual value differs from the real one is where a dev board behaves unlike its silicon
(Secure Boot on in virtual eFuses only, a key digest that exists nowhere but in flash): it is marked
with "≠" in its own column, in bold and tinted, and "Differences only" narrows the table to those rows.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QCheckBox, QHeaderView, QLineEdit, QTableView

from app.flashing.efuse_table import EfuseRow
from app.ui.models.formatting import fixed_font
from app.ui.models.table_model import ROOT, HeaderedTableModel, Index

DIFFERS_MARK = "≠"
DIFF_TINT = QColor(230, 160, 40, 60)


class EfuseModel(HeaderedTableModel):
    headers = ("", "eFuse", "Block", "Real (chip)", "Virtual (efuse_em)", "Description")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[EfuseRow] = []

    def set_rows(self, rows: list[EfuseRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row_at(self, row: int) -> EfuseRow:
        return self._rows[row]

    @property
    def differing(self) -> list[EfuseRow]:
        return [r for r in self._rows if r.differs]

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            values = (
                DIFFERS_MARK if row.differs else "",
                row.name,
                row.block,
                row.real,
                "—" if row.virtual is None else row.virtual,
                row.description,
            )
            return values[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            if row.differs:
                return f"{row.name}: the chip says {row.real}, the virtual eFuses say {row.virtual}"
            return row.description
        if role == Qt.ItemDataRole.FontRole:
            if column in (3, 4):
                font = fixed_font()
                font.setBold(row.differs)
                return font
            if row.differs:
                bold = QFont()
                bold.setBold(True)
                return bold
        if role == Qt.ItemDataRole.BackgroundRole and row.differs:
            return QBrush(DIFF_TINT)
        return None


class _EfuseFilter(QSortFilterProxyModel):
    def __init__(self, model: EfuseModel) -> None:
        super().__init__(model)
        self.setSourceModel(model)
        self.setFilterKeyColumn(-1)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.differences_only = False

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        model = self.sourceModel()
        assert isinstance(model, EfuseModel)
        if self.differences_only and not model.row_at(source_row).differs:
            return False
        return super().filterAcceptsRow(source_row, source_parent)


class EfuseTableView(QTableView):
    """The table, its search box and its "Differences only" switch (the page lays those two out)."""

    def __init__(self) -> None:
        super().__init__()
        self.model_ = EfuseModel(self)
        self.proxy = _EfuseFilter(self.model_)
        self.setModel(self.proxy)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.verticalHeader().hide()
        self.setWordWrap(False)
        header = self.horizontalHeader()
        header.setStretchLastSection(True)
        for column, width in enumerate((22, 185, 62, 150, 150)):
            header.resizeSection(column, width)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search eFuses…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.differences_only = QCheckBox("Differences only")
        self.differences_only.toggled.connect(self._only_differences)

    def _only_differences(self, on: bool) -> None:
        self.proxy.beginFilterChange()
        self.proxy.differences_only = on
        self.proxy.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def show_rows(self, rows: list[EfuseRow], has_virtual: bool) -> None:
        self.model_.set_rows(rows)
        self.setColumnHidden(4, not has_virtual)
        self.setColumnHidden(0, not has_virtual)
