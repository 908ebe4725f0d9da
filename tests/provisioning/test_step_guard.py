"""The watchdog that ends a worker whose step overran."""

from __future__ import annotations

import threading
import time

from app.provisioning.events import Step
from app.provisioning.step_guard import NoGuard, WatchdogGuard


def test_fires_once_for_a_step_that_overruns() -> None:
    fired: list[tuple[Step, float]] = []
    done = threading.Event()

    def on_timeout(step: Step, seconds: float) -> None:
        fired.append((step, seconds))
        done.set()

    guard = WatchdogGuard(on_timeout)
    try:
        with guard.limit(Step.FLASH, 0.05):
            assert done.wait(2)
        time.sleep(0.1)
    finally:
        guard.close()
    assert fired == [(Step.FLASH, 0.05)]


def test_quiet_for_steps_that_finish_in_time() -> None:
    fired: list[Step] = []
    guard = WatchdogGuard(lambda step, seconds: fired.append(step))
    try:
        for step in (Step.DETECT, Step.CHECK, Step.BOOT):
            with guard.limit(step, 0.2):
                time.sleep(0.01)
        time.sleep(0.3)
    finally:
        guard.close()
    assert fired == []


def test_no_guard_does_nothing() -> None:
    with NoGuard().limit(Step.IEF, 0.0):
        pass
