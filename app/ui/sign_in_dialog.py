"""The sign-in dialog shown at start when the instance has users and no sign-in is kept.

The user name is remembered in the station's preferences (never the password). "Keep me signed in on
this computer" keeps the session token in the OS keyring so the next start opens straight away; without
it the session ends when the window closes. The password is checked off the GUI thread by the
instance (`StationAccess.sign_in`): a wrong one is said inline, where the person can try again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtWidgets import QCheckBox, QLineEdit, QWidget

from app.domain.records import InstanceInfo
from app.instance.api import Instance
from app.instance.station_access import BUILT_IN, StationAccess
from app.ui.settings import StationSettings
from app.ui.widgets.form_dialog import FormDialog

REMEMBERED_USERNAME = "sign_in/username"


@dataclass(frozen=True)
class SignedIn:
    """What a sign-in (or a first administrator) gives the window: the instance as its user."""

    instance: Instance
    info: InstanceInfo
    token: str = field(repr=False)
    kept: bool


def remembered_username(settings: StationSettings) -> str:
    return str(settings.store.value(REMEMBERED_USERNAME, "") or "")


def remember_username(settings: StationSettings, username: str) -> None:
    settings.store.setValue(REMEMBERED_USERNAME, username)
    settings.store.sync()


def where_text(where: str) -> str:
    return "this station's built-in instance" if where == BUILT_IN else f"the instance at {where}"


def keep_box(access: StationAccess) -> QCheckBox:
    box = QCheckBox("Keep me signed in on this computer")
    if not access.keyring.available():
        box.setEnabled(False)
        box.setToolTip("This computer has no OS keyring to keep the sign-in in; you are asked each time.")
    return box


class SignInDialog(FormDialog):
    def __init__(
        self, parent: QWidget | None, access: StationAccess, where: str, settings: StationSettings
    ) -> None:
        super().__init__(
            parent,
            "Sign in",
            "Sign in",
            f"Sign in to {where_text(where)}. What you do is recorded under your name.",
        )
        self.access = access
        self.settings = settings
        self.result_: SignedIn | None = None
        self.username = QLineEdit(remembered_username(settings))
        self.username.setPlaceholderText("user name")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.keep = keep_box(access)
        self.form.addRow("User name", self.username)
        self.form.addRow("Password", self.password)
        self.form.addRow("", self.keep)
        (self.password if self.username.text() else self.username).setFocus()

    def submit(self) -> None:
        username, password = self.username.text().strip(), self.password.text()
        if not username or not password:
            self.show_problem("Enter your user name and password.")
            return
        keep = self.keep.isChecked()
        access = self.access

        def sign_in() -> SignedIn:
            instance, token = access.sign_in(username, password, keep=keep)
            return SignedIn(instance, instance.info(), token, keep)

        self.run(sign_in, "Signing in", self._signed_in)

    def _signed_in(self, result: SignedIn) -> None:
        self.password.clear()
        remember_username(self.settings, result.info.actor)
        self.result_ = result
        self.accept()

    def show_problem(self, text: str, field: QWidget | None = None) -> None:
        super().show_problem(text.replace("Signing in failed: ", ""), field)
