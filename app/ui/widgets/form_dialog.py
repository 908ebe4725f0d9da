"""The frame every form dialog shares: a form, an inline problem line, a busy bar, OK and Cancel.

A subclass fills `form`, and in `submit()` checks what it can locally (showing problems inline with
`show_problem`) and then hands the instance call to `run()`. The call runs on the thread pool; while it
does, the busy bar moves and the buttons are disabled. An instance refusal (a name already taken, a
key the chip cannot use) is shown inline, where the person can fix it, not in the window's banner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from app.workers.background import CallFailure, start_call


class FormDialog(QDialog):
    def __init__(self, parent: QWidget | None, title: str, ok_text: str, intro: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(480)
        self.layout_ = QVBoxLayout(self)
        if intro:
            explanation = QLabel(intro)
            explanation.setObjectName("hint")
            explanation.setWordWrap(True)
            self.layout_.addWidget(explanation)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.layout_.addLayout(self.form)
        self.extra = QVBoxLayout()
        self.layout_.addLayout(self.extra)
        self.problem = QLabel("")
        self.problem.setObjectName("problem")
        self.problem.setWordWrap(True)
        self.problem.hide()
        self.layout_.addWidget(self.problem)
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setMaximumHeight(8)
        self.busy_bar.hide()
        self.layout_.addWidget(self.busy_bar)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(ok_text)
        self.ok_button.setObjectName("primary")
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._ok_clicked)
        self.buttons.rejected.connect(self.reject)
        self.layout_.addWidget(self.buttons)
        self.busy = False

    def submit(self) -> None:
        """Check the form and start the instance call (subclasses)."""
        raise NotImplementedError

    def _ok_clicked(self) -> None:
        if not self.busy:
            self.show_problem("")
            self.submit()

    def show_problem(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.setVisible(bool(text))

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.busy_bar.setVisible(busy)
        self.ok_button.setEnabled(not busy)
        self.cancel_button.setEnabled(not busy)

    def run(self, fn: Callable[[], Any], what: str, on_done: Callable[[Any], None]) -> None:
        self.set_busy(True)

        def done(result: Any) -> None:
            self.set_busy(False)
            on_done(result)

        def failed(failure: CallFailure) -> None:
            self.set_busy(False)
            self.show_problem(failure.message)

        start_call(fn, what, done, failed, owner=self)

    def show_failure(self, failure: CallFailure) -> None:
        """A background load failed: said inline, where the person is looking."""
        self.show_problem(failure.message)

    def reject(self) -> None:
        if not self.busy:  # the instance call is under way; its result must not be lost
            super().reject()
