"""The polling hotplug watcher over a real registry folder and real (short-lived) processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.ports.discovery import PortInfo, list_virtual_boards
from app.ports.hotplug import PortChange, PortEvent, PortWatcher
from app.system.sim_registry import VirtualBoardEntry, register, unregister


def _entry(n: int, pid: int | None = None) -> VirtualBoardEntry:
    return VirtualBoardEntry(
        f"sim-{n}",
        f"rfc2217://127.0.0.1:{40000 + n}",
        "esp32c3",
        f"aa:bb:cc:00:00:0{n}",
        pid if pid is not None else os.getpid(),
    )


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=5)


def _changes(events: list[PortEvent]) -> list[tuple[str, str | None]]:
    return [(e.change.value, e.port.name) for e in events]


def test_first_poll_reports_present_ports(tmp_path: Path) -> None:
    register(tmp_path, _entry(1))
    register(tmp_path, _entry(2))
    seen: list[PortEvent] = []
    watcher = PortWatcher(lambda: list_virtual_boards(tmp_path), seen.append)
    assert _changes(watcher.poll()) == [("added", "sim-1"), ("added", "sim-2")]
    assert _changes(seen) == [("added", "sim-1"), ("added", "sim-2")]
    assert watcher.poll() == []  # nothing changed


def test_boards_appearing_and_disappearing(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    watcher = PortWatcher(lambda: list_virtual_boards(tmp_path), lambda _e: None)
    assert watcher.poll() == []
    register(tmp_path, _entry(1))
    register(tmp_path, _entry(3, sleeper.pid))
    assert _changes(watcher.poll()) == [("added", "sim-1"), ("added", "sim-3")]
    unregister(tmp_path, "sim-1")
    assert _changes(watcher.poll()) == [("removed", "sim-1")]
    sleeper.kill()
    sleeper.wait(timeout=5)
    assert _changes(watcher.poll()) == [("removed", "sim-3")]  # its process died: file left behind
    assert watcher.known == []


def test_background_watcher_reports_and_stops(tmp_path: Path) -> None:
    added = threading.Event()
    seen: list[PortEvent] = []

    def on_event(event: PortEvent) -> None:
        seen.append(event)
        if event.change is PortChange.ADDED:
            added.set()

    watcher = PortWatcher(lambda: list_virtual_boards(tmp_path), on_event, interval=0.02)
    watcher.start()
    try:
        register(tmp_path, _entry(4))
        assert added.wait(timeout=5)
    finally:
        watcher.stop()
    assert not watcher.running
    assert _changes(seen) == [("added", "sim-4")]
    unregister(tmp_path, "sim-4")  # after stop: no more events
    threading.Event().wait(0.1)
    assert len(seen) == 1


def test_failing_scan_is_reported_and_watching_goes_on(tmp_path: Path) -> None:
    calls = 0
    errors: list[Exception] = []
    recovered = threading.Event()

    def flaky() -> list[PortInfo]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("udev not ready")
        recovered.set()
        return list_virtual_boards(tmp_path)

    watcher = PortWatcher(flaky, lambda _e: None, interval=0.02, on_error=errors.append)
    watcher.start()
    try:
        assert recovered.wait(timeout=5)
    finally:
        watcher.stop()
    assert [str(e) for e in errors] == ["udev not ready"]
