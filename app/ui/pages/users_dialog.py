"""Create a user: username, role, and a password typed twice. Both password fields stay masked.

Every rule the dialog can check here (username characters, password length, the repeat) is checked at
once and every problem is listed together, each next to its field; a name already taken is the
instance's to say, shown inline. The password is never kept after the call.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QLineEdit, QWidget

from app.domain.errors import ValidationError
from app.domain.kinds import Role
from app.domain.names import validate_username
from app.domain.records import User
from app.instance.api import Instance
from app.instance.local.passwords import check_password_rules
from app.ui.widgets.form_dialog import FormDialog, Problem

ROLE_LABELS = {
    Role.ADMINISTRATOR: "Administrator — everything, including users",
    Role.CONTRIBUTOR: "Contributor — everything except users",
}


class CreateUserDialog(FormDialog):
    created = Signal(object)  # User

    def __init__(self, parent: QWidget | None, instance: Instance) -> None:
        super().__init__(parent, "Create user", "Create user")
        self._instance = instance
        self.user: User | None = None
        self.username = QLineEdit()
        self.username.setPlaceholderText("letters, digits, - and _")
        self.role = QComboBox()
        for role in (Role.CONTRIBUTOR, Role.ADMINISTRATOR):
            self.role.addItem(ROLE_LABELS[role], role)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat = QLineEdit()
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.form.addRow("Username", self.username)
        self.form.addRow("Role", self.role)
        self.form.addRow("Password", self.password)
        self.form.addRow("Repeat password", self.repeat)

    def problems(self) -> list[Problem]:
        """Everything wrong with the form, all at once (a person fixes them in one go)."""
        found: list[Problem] = []
        try:
            validate_username(self.username.text())
        except ValidationError as exc:
            found.append((self.username, str(exc)))
        password = self.password.text()
        try:
            check_password_rules(password)
        except ValidationError as exc:
            found.append((self.password, str(exc)))
        if password != self.repeat.text():
            found.append((self.repeat, "The two passwords differ."))
        return found

    def submit(self) -> None:
        problems = self.problems()
        if problems:
            self.show_problems(problems)
            return
        password = self.password.text()
        username, role, instance = self.username.text(), self.role.currentData(), self._instance
        self.run(lambda: instance.create_user(username, password, role), "Creating the user", self._done)

    def _done(self, user: User) -> None:
        self.user = user
        self.password.clear()
        self.repeat.clear()
        self.created.emit(user)
        self.accept()
