"""First start of a new built-in instance: the person creates its administrator.

Until an instance has a user, whoever opens it acts as the built-in `station` account; this dialog ends
that by creating the first administrator (a name and a password the instance checks: long enough, not
the name, not a common one) and signing them in. The demo (`gui --demo`) skips it.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit, QWidget

from app.instance.station_access import StationAccess
from app.ui.settings import StationSettings
from app.ui.sign_in_dialog import SignedIn, keep_box, remember_username
from app.ui.widgets.form_dialog import FormDialog


class FirstAdminDialog(FormDialog):
    def __init__(self, parent: QWidget | None, access: StationAccess, settings: StationSettings) -> None:
        super().__init__(
            parent,
            "Create the administrator",
            "Create and sign in",
            "This station's built-in instance is new. Create its administrator: the person who creates "
            "the other users. Everything done on the instance is recorded under a user's name.",
        )
        self.access = access
        self.settings = settings
        self.result_: SignedIn | None = None
        self.username = QLineEdit()
        self.username.setPlaceholderText("for example: line-admin")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat = QLineEdit()
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.keep = keep_box(access)
        self.form.addRow("User name", self.username)
        self.form.addRow("Password", self.password)
        self.form.addRow("Repeat password", self.repeat)
        self.form.addRow("", self.keep)

    def submit(self) -> None:
        username, password = self.username.text().strip(), self.password.text()
        if not username:
            self.show_problem("Enter a user name.")
            return
        if password != self.repeat.text():
            self.show_problem("The two passwords differ.")
            return
        keep = self.keep.isChecked()
        access = self.access

        def create() -> SignedIn:
            instance, token = access.create_first_administrator(username, password, keep=keep)
            return SignedIn(instance, instance.info(), token, keep)

        self.run(create, "Creating the administrator", self._created)

    def _created(self, result: SignedIn) -> None:
        self.password.clear()
        self.repeat.clear()
        remember_username(self.settings, result.info.actor)
        self.result_ = result
        self.accept()

    def show_problem(self, text: str, field: QWidget | None = None) -> None:
        super().show_problem(text.replace("Creating the administrator failed: ", ""), field)
