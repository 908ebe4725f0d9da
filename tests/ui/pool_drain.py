"""Ending a GUI test cleanly: no background call may outlive it, and none may deliver to a dead widget."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QThreadPool

WAIT_MS = 20_000


def drain_pool() -> None:
    """Wait for every background call and deliver its result on this (the GUI) thread."""
    pool = QThreadPool.globalInstance()
    for _ in range(3):  # a delivered result may start the next call (a page after the first)
        assert pool.waitForDone(WAIT_MS), "background calls were still running at the end of the test"
        QCoreApplication.processEvents()
    assert pool.waitForDone(WAIT_MS)
