"""Create a user: username, role, and a password typed twice. Both password fields stay masked.

The repeat is compared here; every other rule (username characters, password length, a name already
taken) is the instance's, and its message is shown inline. The password is never kept after the call.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QLineEdit, QWidget

from app.domain.kinds import Role
from app.domain.records import User
from app.instance.api import Instance
from app.ui.widgets.form_dialog import FormDialog

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

    def submit(self) -> None:
        password = self.password.text()
        if password != self.repeat.text():
            self.show_problem("The two passwords differ.")
            return
        username, role, instance = self.username.text(), self.role.currentData(), self._instance
        self.run(lambda: instance.create_user(username, password, role), "Creating the user", self._done)

    def _done(self, user: User) -> None:
        self.user = user
        self.password.clear()
        self.repeat.clear()
        self.created.emit(user)
        self.accept()
