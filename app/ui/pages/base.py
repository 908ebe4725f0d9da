"""What every page has: a title, an icon name, an order, and a way to refresh from the instance.

A page refreshes itself when it is shown and, if it sets `refresh_interval_ms`, on a timer while it
stays visible. Instance calls go through `call()`, which runs them on the thread pool and sends any
failure (a `CallFailure`, the exception itself) to `error`, which the main window connects to its one
error sink. `navigate` asks the window to
show another page by title ("Go to Devices").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import QWidget

from app.ui.pages.context import PageContext
from app.workers.background import CallFailure, start_call


class Page(QWidget):
    title: ClassVar[str] = "Page"
    icon: ClassVar[str] = ""
    order: ClassVar[int] = 0
    administrators_only: ClassVar[bool] = False
    refresh_interval_ms: ClassVar[int] = 0

    error = Signal(object)  # CallFailure, or a plain sentence
    navigate = Signal(str)
    status = Signal(str)  # a short confirmation for the status bar ("Batch 'x' created")

    def __init__(self, context: PageContext) -> None:
        super().__init__()
        self.context = context
        self.instance = context.instance
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh)

    def refresh(self) -> None:
        """Reload what the page shows, in the background. Called when the page becomes visible."""

    def quit_question(self) -> str | None:
        """What the person must agree to before the window closes (work that closing would stop), or None."""
        return None

    def shutdown(self) -> None:
        """The window is closing for good: stop what the page runs. Safe to call twice."""

    def call(
        self,
        fn: Callable[[], Any],
        what: str,
        on_success: Callable[[Any], None],
        on_failure: Callable[[CallFailure], None] | None = None,
    ) -> None:
        """Run `fn` off the GUI thread; its result reaches `on_success` on the GUI thread.

        A failure always reaches the error sink; `on_failure` lets the page also undo a busy state.
        """

        def failed(failure: CallFailure) -> None:
            if on_failure is not None:
                on_failure(failure)
            self.error.emit(failure)

        start_call(fn, what, on_success, failed, owner=self)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()
        if self.refresh_interval_ms > 0:
            self._timer.start(self.refresh_interval_ms)

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._timer.stop()
