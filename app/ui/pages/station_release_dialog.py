"""The release-bootloader confirmation: the person types the batch name before any chip is locked.

A release bootloader burns Secure Boot eFuses for good, so the Station page never starts a release task
on a click alone. Typing the batch name (the engine's `expected_release_confirmation`, the same word the
CLI's `--confirm-release` takes) proves the person read which production run is about to lock chips.
A wrong name is refused here with the reason; the typed text then goes to the job, where the engine
checks it again. Boards the station knows the batch would refuse (their DeviceID is already in another
batch, app/provisioning/board_vetting.py) are listed before the person types: the check step refuses
them before anything is written to them.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtGui import QTextOption
from PySide6.QtWidgets import QLabel, QLineEdit, QPlainTextEdit, QWidget

from app.flashing.flash_checks import expected_release_confirmation
from app.ui.widgets.form_dialog import FormDialog


class ReleaseConfirmDialog(FormDialog):
    confirmed = Signal(str)  # the text as typed

    def __init__(
        self,
        parent: QWidget | None,
        task: str,
        batch: str,
        boards: int | None = None,
        refused: Sequence[tuple[str, str]] = (),
    ) -> None:
        if boards is None:
            what = "every board plugged in from now on"
        else:
            what = f"{boards} board{'s' if boards != 1 else ''}"
        super().__init__(
            parent,
            "Release bootloader: confirm",
            "Lock the chips",
            f"Task “{task}” flashes a RELEASE bootloader. It burns Secure Boot eFuses on {what} for "
            "good: afterwards the chips only boot images signed with this task's key.",
        )
        self.batch = batch
        self.expected = expected_release_confirmation(batch)
        self.confirmation: str | None = None
        prompt = QLabel(f"To go ahead, type the name of the batch: <b>{_escape(self.expected)}</b>")
        prompt.setWordWrap(True)
        self.refused = list(refused)
        self.refused_title = QLabel("")
        self.refused_title.setObjectName("problem")
        self.refused_title.setWordWrap(True)
        self.refused_view = QPlainTextEdit()  # wraps anywhere: a DeviceID is one 64-character word
        self.refused_view.setReadOnly(True)
        self.refused_view.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.refused_view.setMaximumHeight(150)
        if self.refused:
            count = len(self.refused)
            self.refused_title.setText(
                f"{count} board{'s are' if count != 1 else ' is'} already in another batch and will be "
                f"refused at the check step, before anything is written to {'them' if count != 1 else 'it'}:"
            )
            self.refused_view.setPlainText("\n\n".join(f"{name}: {reason}" for name, reason in self.refused))
            self.form.addRow(self.refused_title)
            self.form.addRow(self.refused_view)
        else:
            self.refused_title.hide()
            self.refused_view.hide()
        self.typed = QLineEdit()
        self.typed.setPlaceholderText("batch name, exactly")
        self.form.addRow(prompt)
        self.form.addRow("Batch name", self.typed)
        self.ok_button.setDefault(True)

    def submit(self) -> None:
        typed = self.typed.text().strip()
        if not typed:
            self.show_problem(f"Type the batch name ({self.expected}) to go ahead; nothing has been flashed.")
            return
        if typed != self.expected:
            self.show_problem(
                f"“{typed}” is not the batch name. Type exactly “{self.expected}” "
                "(letters, spaces and case as shown); nothing has been flashed."
            )
            return
        self.confirmation = typed
        self.confirmed.emit(typed)
        self.accept()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
