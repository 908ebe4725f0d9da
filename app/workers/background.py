"""Run a plain function off the GUI thread and get its result back on the GUI thread.

A `QRunnable` plus a separate `QObject` for signals (superqt's pattern). The function never sees Qt and
never touches a widget. Results reach the callbacks through the `_Relay` object's own slots: the relay
is created on the calling (GUI) thread, so the worker's emissions are queued there. Connecting a
lambda directly would run it on the worker thread, which is the mistake this module exists to avoid.
Every error becomes one message for the window's single error sink.

`owner` ties a call to the widget that asked for it: if the widget is destroyed before the result
arrives (a dialog closed, a window torn down), the result is dropped instead of reaching a dead object.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from app.domain.errors import StationError

log = logging.getLogger(__name__)

_live: set[_Relay] = set()  # relays stay alive until their result has been delivered
_delivered: list[_Relay] = []  # the last relay that delivered, kept until the next one does (see _release)


class _Relay(QObject):
    succeeded = Signal(object)
    failed = Signal(str)

    def __init__(
        self,
        on_success: Callable[[Any], None],
        on_failure: Callable[[str], None],
        owner: QObject | None = None,
    ) -> None:
        super().__init__()
        self._on_success = on_success
        self._on_failure = on_failure
        self._dropped = False
        self.succeeded.connect(self._deliver_success)
        self.failed.connect(self._deliver_failure)
        if owner is not None:
            owner.destroyed.connect(self._drop)

    @Slot()
    def _drop(self) -> None:
        self._dropped = True

    @Slot(object)
    def _deliver_success(self, result: object) -> None:
        deliver = self._on_success
        self._release()
        if not self._dropped:
            deliver(result)

    @Slot(str)
    def _deliver_failure(self, message: str) -> None:
        deliver = self._on_failure
        self._release()
        if not self._dropped:
            deliver(message)

    def _release(self) -> None:
        """Let go of the callbacks now and of this relay later, never from inside its own slot.

        The callbacks may hold the last reference to their owner; deleting a relay that still held
        them could destroy the owner during the relay's own deletion, and the owner's `destroyed`
        would then call `_drop` on a half-deleted relay (a crash seen in CI). And dropping the relay's
        last reference inside its own slot would delete the QObject while Qt still dispatches to it.
        So the callbacks go now, and the relay is kept until the next delivery lets go of it.
        """
        self._on_success = self._on_failure = _ignore
        _live.discard(self)
        _delivered[:] = [self]


def _ignore(_value: object) -> None:
    pass


class BackgroundCall(QRunnable):
    """One call of `fn()` on a thread pool."""

    def __init__(self, fn: Callable[[], Any], what: str, relay: _Relay) -> None:
        super().__init__()
        self.fn = fn
        self.what = what
        self.relay = relay
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.fn()
        except StationError as exc:
            self.relay.failed.emit(f"{self.what} failed: {exc}")
        except Exception as exc:  # a defect, not bad input: keep the traceback in the log
            log.error("%s failed unexpectedly:\n%s", self.what, traceback.format_exc())
            self.relay.failed.emit(f"{self.what} failed unexpectedly: {type(exc).__name__}: {exc}")
        else:
            self.relay.succeeded.emit(result)


def start_call(
    fn: Callable[[], Any],
    what: str,
    on_success: Callable[[Any], None],
    on_failure: Callable[[str], None],
    pool: QThreadPool | None = None,
    owner: QObject | None = None,
) -> None:
    """Start `fn` on the pool; the callbacks run later on the thread that called this (the GUI thread)."""
    relay = _Relay(on_success, on_failure, owner)
    _live.add(relay)
    (pool or QThreadPool.globalInstance()).start(BackgroundCall(fn, what, relay))
