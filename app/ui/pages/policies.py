"""Policies: the terms batches enrol under (certificate lifetime, auto-renew, JWT lifetime, type of
connection), how many batches use each, and creating, editing and deleting them.

A batch picks its policy when it is created (Devices page) or later (`ql-station batch set-policy`).
"""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from app.domain.records import Policy
from app.ui.models.formatting import count, plural, when
from app.ui.models.table_model import Column, RecordTableModel, sorting_proxy
from app.ui.pages.base import Page
from app.ui.pages.context import PageContext
from app.ui.pages.policies_dialog import CONNECTION_LABELS, DeletePolicyDialog, PolicyDialog
from app.ui.widgets.page_header import PageHeader, section_title
from app.ui.widgets.record_view import RecordView
from app.workers.listing import Listing, collect

D = TypeVar("D", PolicyDialog, DeletePolicyDialog)

POLICY_COLUMNS: tuple[Column[Policy], ...] = (
    Column("Name", lambda p: p.name),
    Column("Connection", lambda p: CONNECTION_LABELS[p.connection].split(" (")[0]),
    Column(
        "Certificate lifetime",
        lambda p: plural(p.certificate_days, "day"),
        sort_key=lambda p: p.certificate_days,
    ),
    Column("Auto-renew", lambda p: "yes" if p.auto_renew else "no"),
    Column("JWT lifetime", lambda p: f"{count(p.jwt_minutes)} min", sort_key=lambda p: p.jwt_minutes),
    Column("Batches", lambda p: count(p.batches), sort_key=lambda p: p.batches),
    Column("Created", lambda p: when(p.created_at), sort_key=lambda p: p.created_at),
)


class PoliciesPage(Page):
    title = "Policies"
    icon = "policies"
    order = 26

    def __init__(self, context: PageContext) -> None:
        super().__init__(context)
        self.listing: Listing[Policy] | None = None
        self.dialog: PolicyDialog | DeletePolicyDialog | None = None
        self._select_next: str | None = None  # the policy just created or saved
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        self.create_button = QPushButton("Create policy…")
        self.create_button.setObjectName("primary")
        self.create_button.clicked.connect(self.open_create_dialog)
        layout.addWidget(
            PageHeader(
                "Policies",
                "The terms a batch's devices enrol under: how long their certificates live, whether "
                "they renew them, and how long their JWTs live.",
                self.create_button,
            )
        )
        self.model = RecordTableModel(POLICY_COLUMNS, self)
        self.proxy = sorting_proxy(self.model, self)
        self.policies = RecordView(self.proxy, widths=(200, 120, 150, 100, 110, 80))
        self.policies.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.policies.doubleClicked.connect(lambda _index: self.open_edit_dialog())
        self.edit_button = QPushButton("Edit…")
        self.edit_button.clicked.connect(self.open_edit_dialog)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.clicked.connect(self.open_delete_dialog)
        for button in (self.edit_button, self.delete_button):
            button.setEnabled(False)
        self.policies.selectionModel().selectionChanged.connect(self._selection_changed)
        self.count_label = QLabel("")
        self.count_label.setObjectName("hint")
        row = QHBoxLayout()
        row.addWidget(section_title("Policies"))
        row.addWidget(self.count_label, 1)
        row.addWidget(self.edit_button)
        row.addWidget(self.delete_button)
        layout.addLayout(row)
        layout.addWidget(self.policies, 1)

    def refresh(self) -> None:
        self.call(lambda: collect(self.instance.list_policies), "Loading the policies", self._show)

    def _show(self, listing: Listing[Policy]) -> None:
        selected = self.selected_policy()
        chosen = self._select_next or (selected.name if selected is not None else None)
        self._select_next = None
        self.listing = listing
        self.model.set_records(listing.items)
        self.count_label.setText(plural(listing.total, "policy", "policies"))
        if chosen is not None:
            self.select_policy(chosen)
        self._selection_changed()

    def selected_policy(self) -> Policy | None:
        row = self.policies.selected_source_row()
        return None if row is None else self.model.record(row)

    def select_policy(self, name: str) -> bool:
        for row, policy in enumerate(self.model.records()):
            if policy.name == name:
                self.policies.selectRow(self.proxy.mapFromSource(self.model.index(row, 0)).row())
                return True
        return False

    def _selection_changed(self) -> None:
        chosen = self.selected_policy() is not None
        self.edit_button.setEnabled(chosen)
        self.delete_button.setEnabled(chosen)

    def open_create_dialog(self) -> PolicyDialog:
        dialog = PolicyDialog(self, self.instance)
        dialog.saved.connect(lambda policy: self._changed(f"Policy {policy.name!r} created", policy.name))
        return self._opened(dialog)

    def open_edit_dialog(self) -> PolicyDialog | None:
        policy = self.selected_policy()
        if policy is None:
            return None
        dialog = PolicyDialog(self, self.instance, policy)
        dialog.saved.connect(lambda saved: self._changed(f"Policy {saved.name!r} saved", saved.name))
        return self._opened(dialog)

    def open_delete_dialog(self) -> DeletePolicyDialog | None:
        policy = self.selected_policy()
        if policy is None:
            return None
        dialog = DeletePolicyDialog(self, self.instance, policy)
        dialog.deleted.connect(lambda name: self._changed(f"Policy {name!r} deleted"))
        return self._opened(dialog)

    def _opened(self, dialog: D) -> D:
        """Open without blocking the window; the page keeps it while it is open."""
        self.dialog = dialog
        dialog.open()
        return dialog

    def _changed(self, message: str, select: str | None = None) -> None:
        self.status.emit(message)
        self._select_next = select
        self.refresh()
