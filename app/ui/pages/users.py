"""Users (administrators only): the instance's users, creating one, changing a role, deleting one.

The page is not even listed for contributors (the registry's `administrators_only`); the instance
still checks every change itself, and its refusals (the last administrator, say) reach the error sink.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QMessageBox, QPushButton, QVBoxLayout

from app.domain.kinds import Role
from app.domain.records import User
from app.ui.models.formatting import plural, when
from app.ui.models.table_model import Column, RecordTableModel, sorting_proxy
from app.ui.pages.base import Page
from app.ui.pages.context import PageContext
from app.ui.pages.users_dialog import CreateUserDialog
from app.ui.widgets.page_header import PageHeader, section_title
from app.ui.widgets.record_view import RecordView
from app.workers.listing import Listing, collect

USER_COLUMNS: tuple[Column[User], ...] = (
    Column("Username", lambda u: u.username),
    Column("Role", lambda u: u.role.value),
    Column("Created", lambda u: when(u.created_at), sort_key=lambda u: u.created_at),
)


class UsersPage(Page):
    title = "Users"
    icon = "users"
    order = 40
    administrators_only = True

    def __init__(self, context: PageContext) -> None:
        super().__init__(context)
        self.listing: Listing[User] | None = None
        self.confirmation: QMessageBox | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        self.create_button = QPushButton("Create user…")
        self.create_button.setObjectName("primary")
        self.create_button.clicked.connect(self.open_create_dialog)
        layout.addWidget(
            PageHeader(
                "Users",
                "Who may sign in to this instance. Contributors do everything except manage users.",
                self.create_button,
            )
        )
        self.model = RecordTableModel(USER_COLUMNS, self)
        self.proxy = sorting_proxy(self.model, self)
        self.users = RecordView(self.proxy, widths=(220, 140))
        self.users.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.role_button = QPushButton("Change role")
        self.role_menu = QMenu(self.role_button)
        for role in Role:
            action = self.role_menu.addAction(f"Make {role.value}")
            action.triggered.connect(lambda _checked=False, r=role: self.change_role(r))
        self.role_button.setMenu(self.role_menu)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.clicked.connect(self.confirm_delete)
        for button in (self.role_button, self.delete_button):
            button.setEnabled(False)
        self.users.selectionModel().selectionChanged.connect(self._selection_changed)
        self.count_label = QLabel("")
        self.count_label.setObjectName("hint")
        row = QHBoxLayout()
        row.addWidget(section_title("Users"))
        row.addWidget(self.count_label, 1)
        row.addWidget(self.role_button)
        row.addWidget(self.delete_button)
        layout.addLayout(row)
        layout.addWidget(self.users, 1)

    def refresh(self) -> None:
        self.call(lambda: collect(self.instance.list_users), "Loading the users", self._show)

    def _show(self, listing: Listing[User]) -> None:
        selected = self.selected_user()
        self.listing = listing
        self.model.set_records(listing.items)
        self.count_label.setText(plural(listing.total, "user"))
        if selected is not None:
            self.select_user(selected.username)
        self._selection_changed()

    def selected_user(self) -> User | None:
        row = self.users.selected_source_row()
        return None if row is None else self.model.record(row)

    def select_user(self, username: str) -> bool:
        for row, user in enumerate(self.model.records()):
            if user.username == username:
                self.users.selectRow(self.proxy.mapFromSource(self.model.index(row, 0)).row())
                return True
        return False

    def _selection_changed(self) -> None:
        chosen = self.selected_user() is not None
        self.role_button.setEnabled(chosen)
        self.delete_button.setEnabled(chosen)

    def open_create_dialog(self) -> CreateUserDialog:
        dialog = CreateUserDialog(self, self.instance)
        dialog.created.connect(lambda user: self._changed(f"User {user.username!r} created"))
        dialog.open()
        return dialog

    def change_role(self, role: Role) -> None:
        user = self.selected_user()
        if user is None:
            return
        self.call(
            lambda: self.instance.set_user_role(user.username, role),
            f"Changing the role of {user.username!r}",
            lambda changed: self._changed(f"{changed.username!r} is now {changed.role.value}"),
        )

    def confirm_delete(self) -> QMessageBox | None:
        """Ask first, without blocking the window: the answer arrives through `finished`."""
        user = self.selected_user()
        if user is None:
            return None
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Delete user",
            f"Delete the user {user.username!r}? They will no longer be able to sign in.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda _result: self._delete_answered(user.username, box))
        self.confirmation = box
        box.open()
        return box

    def _delete_answered(self, username: str, box: QMessageBox) -> None:
        self.confirmation = None
        if box.clickedButton() == box.button(QMessageBox.StandardButton.Yes):
            self.call(
                lambda: self.instance.delete_user(username),
                f"Deleting the user {username!r}",
                lambda _none: self._changed(f"User {username!r} deleted"),
            )

    def _changed(self, message: str) -> None:
        self.status.emit(message)
        self.refresh()
