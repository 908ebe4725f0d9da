"""The frame every form dialog shares: a form, an inline problem list, a busy bar, OK and Cancel.

A subclass fills `form`, and in `submit()` checks what it can locally and then hands the instance call
to `run()`. The call runs on the thread pool; while it does, the busy bar moves and the buttons are
disabled. An instance refusal (a name already taken, a key the chip cannot use) is shown inline, where
the person can fix it, not in the window's banner.

Problems are shown all at once (`show_problems`), each tied to the field it is about: editing that field
takes its problems away (a fixed mistake must not stay on screen), and editing any field takes away the
problems tied to none (an instance refusal may no longer apply). The dialog grows when problems appear,
so no message or help text is ever clipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.workers.background import CallFailure, start_call

Problem = tuple[QWidget | None, str]
"""A problem and the field it is about (None: the form as a whole, or the instance's refusal)."""


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
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
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
        self.problems_shown: list[Problem] = []
        self._watched: set[int] = set()

    def submit(self) -> None:
        """Check the form and start the instance call (subclasses)."""
        raise NotImplementedError

    def _ok_clicked(self) -> None:
        if not self.busy:
            self.show_problem("")
            self.submit()

    # --- problems --------------------------------------------------------------------------------
    def show_problem(self, text: str, field: QWidget | None = None) -> None:
        """One problem (or none, with empty text)."""
        self.show_problems([(field, text)] if text else [])

    def show_problems(self, problems: Sequence[Problem]) -> None:
        """Every problem found, one per line; each goes away when its field is edited."""
        self._watch_fields()
        self.problems_shown = [(field, text) for field, text in problems if text]
        self._draw_problems()

    def problem_texts(self) -> list[str]:
        return [text for _field, text in self.problems_shown]

    def _draw_problems(self) -> None:
        texts = self.problem_texts()
        text = texts[0] if len(texts) == 1 else "\n".join(f"• {t}" for t in texts)
        self.problem.setText(text)
        self.problem.setVisible(bool(texts))
        for field in self._fields():
            bad = any(f is field for f, _t in self.problems_shown)
            if field.property("invalid") != bad:
                field.setProperty("invalid", bad)
                field.style().unpolish(field)
                field.style().polish(field)
        self.fit()

    def field_edited(self, field: QWidget) -> None:
        """The person changed `field`: its problems, and the form-wide ones, are out of date."""
        if not self.problems_shown:
            return
        kept: list[Problem] = [(f, t) for f, t in self.problems_shown if f is not None and f is not field]
        if len(kept) != len(self.problems_shown):
            self.problems_shown = kept
            self._draw_problems()

    def _fields(self) -> list[QWidget]:
        kinds: tuple[type[QWidget], ...] = (QLineEdit, QComboBox, QPlainTextEdit, QSpinBox, QAbstractButton)
        return [
            w for w in self.findChildren(QWidget) if isinstance(w, kinds) and w.parent() is not self.buttons
        ]

    def _watch_fields(self) -> None:
        """Connect each input's edit signal once (fields added after construction are picked up too)."""
        for field in self._fields():
            if id(field) in self._watched or field.parent() is self.buttons:
                continue
            self._watched.add(id(field))
            edited = self._edit_signal(field)
            if edited is not None:
                edited.connect(lambda *_args, f=field: self.field_edited(f))

    @staticmethod
    def _edit_signal(field: QWidget) -> Any:
        if isinstance(field, QLineEdit):
            return field.textEdited
        if isinstance(field, QComboBox):
            return field.currentIndexChanged
        if isinstance(field, QPlainTextEdit):
            return field.textChanged
        if isinstance(field, QSpinBox):
            return field.valueChanged
        if isinstance(field, QAbstractButton) and field.isCheckable():
            return field.toggled
        return None

    # --- size ------------------------------------------------------------------------------------
    def fit(self) -> None:
        """Grow (never shrink) to what the content needs at the current width: nothing is clipped."""
        self.layout_.activate()
        width = max(self.width(), self.minimumWidth())
        needed = self.layout_.totalHeightForWidth(width) if self.layout_.hasHeightForWidth() else -1
        needed = max(needed, self.layout_.totalSizeHint().height())
        if needed > self.height():
            self.resize(width, needed)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._watch_fields()
        QTimer.singleShot(0, self, self.fit)  # once the platform has settled the first size

    # --- background calls ------------------------------------------------------------------------
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
