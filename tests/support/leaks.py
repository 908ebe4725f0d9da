"""The check that no test leaves a port-worker process or a Python thread running after it."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def child_pids() -> set[int]:
    """Live child processes of this test process (Linux /proc; empty elsewhere)."""
    me = str(os.getpid())
    found: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


@pytest.fixture
def nothing_left_behind() -> Iterator[None]:
    """Fail the test if a thread or child process it started is still alive 10 s after it ends.

    A QThread that ran Python code stays in `threading.enumerate()` as a dummy entry for good, so only
    Python's own threads are counted.
    """
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 10
    while True:
        threads = [
            t.name
            for t in threading.enumerate()
            if t not in before and t.is_alive() and not isinstance(t, threading._DummyThread)
        ]
        children = child_pids()
        if not threads and not children:
            return
        assert time.monotonic() < deadline, f"left behind: threads {threads}, processes {sorted(children)}"
        time.sleep(0.05)
