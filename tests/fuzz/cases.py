"""The fuzz suite's one property and its bookkeeping.

Property: for any input a parser returns a result or raises a StationError with a message; any other
exception is a crash, and an example that runs past HANG_SECONDS is a hang (hypothesis' own deadline is
off, so a slow shared machine cannot make the suite flaky; this limit is far above any honest example).
Every example run is counted, so `make fuzz` can say how many cases it tried.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TypeVar

from app.domain.errors import StationError

HANG_SECONDS = 10
CASES: Counter[str] = Counter()
T = TypeVar("T")


class HangError(AssertionError):
    """One example ran for longer than HANG_SECONDS."""


def _hang(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    raise HangError(f"one example ran past {HANG_SECONDS} s: the parser hangs on this input")


@contextmanager
def fuzz_case(suite: str) -> Iterator[None]:
    """Count one example of `suite` and fail it if it runs past HANG_SECONDS."""
    CASES[suite] += 1
    previous = signal.signal(signal.SIGALRM, _hang)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def result_or_station_error(call: Callable[[], T]) -> T | StationError:
    """Run `call`: its result, or the StationError it raised (with a message); anything else escapes."""
    try:
        return call()
    except StationError as error:
        assert str(error).strip(), f"{type(error).__name__} with an empty message"
        return error
