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

A failure reaches `on_failure` as a `CallFailure` holding the exception itself, not a string: the
window chooses what to show by its type (not allowed for this role, a conflict, a passphrase to enter,
a defect to report). The exception is kept by the relay like any outcome and let go on the calling
thread. Its traceback is not: the traceback's frames belong to the pool thread (they hold the runnable
and the call's locals), so a defect's traceback is written to the log there and then cut off.
"""

from __future__ import annotations

import itertools
import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from shiboken6 import Shiboken

from app.domain.errors import StationError

log = logging.getLogger(__name__)
_E = TypeVar("_E", bound=BaseException)


@dataclass(frozen=True)
class CallFailure:
    """A call off the GUI thread that raised. `message` is the sentence shown when nothing better is known.

    `unexpected` marks a defect (not a StationError): its traceback is in the log, and the person is
    asked to report it rather than to fix their input.
    """

    what: str
    error: Exception
    message: str
    unexpected: bool = False

    @classmethod
    def of(cls, what: str, error: Exception) -> CallFailure:
        if isinstance(error, StationError):
            return cls(what, error, f"{what} failed: {error}")
        return cls(what, error, f"{what} failed unexpectedly: {type(error).__name__}: {error}", True)


@dataclass
class _Pending:
    fn: Callable[[], Any]
    what: str
    on_success: Callable[[Any], None]
    on_failure: Callable[[CallFailure], None]
    owner: QObject | None
    outcome: tuple[bool, object] | None = None  # set by the pool thread: (succeeded, result or exception)


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

    def keep(self, call_id: int, outcome: tuple[bool, object]) -> None:
        """On the pool thread: hand the outcome over. The caller holds no reference to it afterwards, so
        whatever it is (a result, an exception) is let go where the relay lets it go."""
        with self._lock:
            self._pending[call_id].outcome = outcome

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
            assert isinstance(value, Exception)
            pending.on_failure(CallFailure.of(pending.what, value))


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
        self._relay.keep(self._call_id, self._call())
        self._relay.finished.emit(self._call_id)  # only the number; the outcome is the relay's now

    def _call(self) -> tuple[bool, object]:
        fn, what = self._relay.function(self._call_id)
        try:
            return True, fn()
        except Exception as exc:
            if not isinstance(exc, StationError):  # a defect, not bad input: keep the traceback in the log
                log.error("%s failed unexpectedly:\n%s", what, traceback.format_exc())
            return False, without_traceback(exc)


def without_traceback(error: _E) -> _E:
    """`error` with its frames dropped, and those of the exceptions chained to it, on this thread.

    Call it on the thread that raised, before the exception goes to another thread: the frames hold
    that thread's objects (a runnable, a worker, the call's locals).
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        exc = pending.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        exc.__traceback__ = None
        pending += [exc.__cause__, exc.__context__]
    return error


def start_call(
    fn: Callable[[], Any],
    what: str,
    on_success: Callable[[Any], None],
    on_failure: Callable[[CallFailure], None],
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
