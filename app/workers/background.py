"""Run a plain function off the GUI thread and get its result back on the GUI thread.

A `QRunnable` plus a separate `QObject` for signals (superqt's pattern). The function never sees Qt and
never touches a widget. Results reach the callbacks through a relay object's slot: the relay lives on
the calling (GUI) thread, so the worker's emissions are queued there. Connecting a lambda directly
would run it on the worker thread, which is the mistake this module exists to avoid. Every error
becomes one message for the window's single error sink.

`owner` ties a call to the widget that asked for it: if the widget is destroyed before the result
arrives (a dialog closed, a window torn down), the result is dropped instead of reaching a dead object.

Nothing Python holds may be let go on the worker thread. The function is usually a lambda over a page
or dialog (`lambda: self._instance.list_x()`); if the pool thread dropped the last reference to it, the
widget would be destroyed on that thread. So each call's function, callbacks and outcome are kept by a
long-lived relay on the calling thread and dropped there; the pool thread signals only the call's
number, so no Python object rides in a queued signal either. (The test run crashed now and then in
the GUI tests before this; see tests/workers/test_background.py.)
"""

from __future__ import annotations

import itertools
import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from shiboken6 import Shiboken

from app.domain.errors import StationError

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    fn: Callable[[], Any]
    what: str
    on_success: Callable[[Any], None]
    on_failure: Callable[[str], None]
    owner: QObject | None
    outcome: tuple[bool, object] | None = None  # set by the pool thread: (succeeded, result or message)


class _Relay(QObject):
    """One per calling thread, for the life of the process.

    It keeps every call in flight (function, callbacks, then outcome) under a lock, and the pool thread
    signals only the call's number: no Python object crosses threads inside a queued signal, and each
    call's objects are dropped here, on the thread that made them.
    """

    finished = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self.finished.connect(self._deliver)

    def register(self, pending: _Pending) -> int:
        with self._lock:
            call_id = next(self._ids)
            self._pending[call_id] = pending
        return call_id

    def function(self, call_id: int) -> tuple[Callable[[], Any], str]:
        with self._lock:
            pending = self._pending[call_id]
            return pending.fn, pending.what

    def conclude(self, call_id: int, succeeded: bool, value: object) -> None:
        """On the pool thread: keep the outcome and wake the calling thread."""
        with self._lock:
            self._pending[call_id].outcome = (succeeded, value)
        self.finished.emit(call_id)

    def in_flight(self) -> int:
        with self._lock:
            return len(self._pending)

    @Slot(int)
    def _deliver(self, call_id: int) -> None:
        with self._lock:
            pending = self._pending.pop(call_id, None)
        if pending is None or pending.outcome is None:
            return
        owner = pending.owner
        if owner is not None and not Shiboken.isValid(owner):
            return  # the widget that asked is gone
        succeeded, value = pending.outcome
        if succeeded:
            pending.on_success(value)
        else:
            pending.on_failure(str(value))


_relays: dict[int, _Relay] = {}
_relays_lock = threading.Lock()


def _relay_for_this_thread() -> _Relay:
    ident = threading.get_ident()
    with _relays_lock:
        relay = _relays.get(ident)
        if relay is None:
            relay = _relays[ident] = _Relay()
        return relay


class BackgroundCall(QRunnable):
    """One call on a thread pool. It holds only the call's number; the function stays with the relay."""

    def __init__(self, relay: _Relay, call_id: int) -> None:
        super().__init__()
        self._relay = relay
        self._call_id = call_id
        self.setAutoDelete(True)

    def run(self) -> None:
        succeeded, value = self._call()
        self._relay.conclude(self._call_id, succeeded, value)

    def _call(self) -> tuple[bool, object]:
        fn, what = self._relay.function(self._call_id)
        try:
            return True, fn()
        except StationError as exc:
            return False, f"{what} failed: {exc}"
        except Exception as exc:  # a defect, not bad input: keep the traceback in the log
            log.error("%s failed unexpectedly:\n%s", what, traceback.format_exc())
            return False, f"{what} failed unexpectedly: {type(exc).__name__}: {exc}"


def start_call(
    fn: Callable[[], Any],
    what: str,
    on_success: Callable[[Any], None],
    on_failure: Callable[[str], None],
    pool: QThreadPool | None = None,
    owner: QObject | None = None,
) -> None:
    """Start `fn` on the pool; the callbacks run later on the thread that called this (the GUI thread)."""
    relay = _relay_for_this_thread()
    call_id = relay.register(_Pending(fn, what, on_success, on_failure, owner))
    (pool or QThreadPool.globalInstance()).start(BackgroundCall(relay, call_id))


def calls_in_flight() -> int:
    """Calls started from this thread whose result has not been delivered yet."""
    return _relay_for_this_thread().in_flight()
