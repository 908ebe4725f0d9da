"""A time limit on each pipeline step, enforced from outside the step.

esptool and pyserial calls block, and a board that goes quiet in the wrong place can hold one for
minutes. The worker runs one board in its own process, so the honest way to stop a step that overran
is to report it and end the process: `WatchdogGuard` does that from its own thread. `NoGuard` is for
code that runs the pipeline in a process it must not end (tests, tools).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from app.provisioning.events import Step

TimeoutAction = Callable[[Step, float], None]


class StepGuard(Protocol):
    def limit(self, step: Step, seconds: float) -> AbstractContextManager[None]: ...


class NoGuard:
    @contextmanager
    def limit(self, step: Step, seconds: float) -> Iterator[None]:
        yield


class WatchdogGuard:
    """Calls `on_timeout(step, seconds)` from a daemon thread when a step is still running after its limit.

    `on_timeout` is expected not to return (the worker reports the timeout and exits).
    """

    def __init__(self, on_timeout: TimeoutAction) -> None:
        self._on_timeout = on_timeout
        self._cv = threading.Condition()
        self._armed: tuple[Step, float, float] | None = None  # step, seconds, deadline
        self._closed = False
        self._thread = threading.Thread(target=self._watch, name="step-watchdog", daemon=True)
        self._thread.start()

    @contextmanager
    def limit(self, step: Step, seconds: float) -> Iterator[None]:
        with self._cv:
            previous = self._armed
            self._armed = (step, seconds, time.monotonic() + seconds)
            self._cv.notify_all()
        try:
            yield
        finally:
            with self._cv:
                self._armed = previous
                self._cv.notify_all()

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _watch(self) -> None:
        while True:
            with self._cv:
                if self._closed:
                    return
                armed = self._armed
                if armed is None:
                    self._cv.wait()
                    continue
                left = armed[2] - time.monotonic()
                if left > 0:
                    self._cv.wait(left)
                    continue
                self._armed = None
            self._on_timeout(armed[0], armed[1])
