"""Ask for the passphrase that protects instance private keys when there is no OS keyring.

`SessionPassphrase` holds the answer for this session only (never stored). The local instance asks it
whenever it must unlock its keys, so a passphrase entered later (the window offers this when a call
failed for want of it, or the one given at start was wrong) is used by the next attempt.
"""

from __future__ import annotations

import threading

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.provisioning.job import MASK

MIN_LENGTH = 8


class SessionPassphrase:
    """The passphrase for this session, set on the GUI thread, read by the instance on worker threads."""

    def __init__(self, passphrase: str | None = None) -> None:
        self._lock = threading.Lock()
        self._passphrase = passphrase

    def set(self, passphrase: str) -> None:
        with self._lock:
            self._passphrase = passphrase

    def prompt(self, _reason: str, _is_new: bool) -> str | None:
        """The instance's passphrase prompt: the held answer, or None (the instance then says why)."""
        with self._lock:
            return self._passphrase

    def __repr__(self) -> str:
        return f"SessionPassphrase({MASK})"


class PassphraseDialog(QDialog):
    def __init__(self, parent: QWidget | None, is_new: bool) -> None:
        super().__init__(parent)
        self.setWindowTitle("Protect the instance keys")
        self.is_new = is_new
        layout = QVBoxLayout(self)
        ask = (
            "Choose a passphrase. It is not stored: you will be asked for it each time the station starts."
            if is_new
            else "Enter the passphrase chosen when this instance was created."
        )
        why = "This computer has no OS keyring to hold the key that protects the instance's private keys."
        text = f"{why}\n{ask}"
        explanation = QLabel(text)
        explanation.setWordWrap(True)
        layout.addWidget(explanation)
        form = QFormLayout()
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("Passphrase", self.passphrase)
        self.repeat = QLineEdit()
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        if is_new:
            form.addRow("Repeat", self.repeat)
        layout.addLayout(form)
        self.problem = QLabel("")
        self.problem.setObjectName("problem")
        layout.addWidget(self.problem)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _accept(self) -> None:
        text = self.passphrase.text()
        if self.is_new and len(text) < MIN_LENGTH:
            self.problem.setText(f"Use at least {MIN_LENGTH} characters.")
        elif self.is_new and text != self.repeat.text():
            self.problem.setText("The two passphrases differ.")
        elif not text:
            self.problem.setText("Enter the passphrase.")
        else:
            self.accept()


def ask_passphrase(parent: QWidget | None, is_new: bool) -> str | None:
    dialog = PassphraseDialog(parent, is_new)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.passphrase.text()
