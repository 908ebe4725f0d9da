"""Port hotplug by polling: compare snapshots, report what appeared and what went away.

Polling, because it works the same on every OS and for virtual boards (which are files, not devices),
and because one `list_ports` scan every second costs a few milliseconds. The watcher is plain Python
with a callback, so the CLI, the tests and the GUI's worker (which turns events into signals) share it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from app.ports.discovery import PortInfo


class PortChange(Enum):
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True)
class PortEvent:
    change: PortChange
    port: PortInfo


Snapshot = Callable[[], Sequence[PortInfo]]
PortCallback = Callable[[PortEvent], None]
ErrorCallback = Callable[[Exception], None]


def diff_ports(before: dict[str, PortInfo], after: Sequence[PortInfo]) -> list[PortEvent]:
    """Removed ports first (a board re-plugged on another URL shows as removed, then added)."""
    now = {port.url: port for port in after}
    removed = [PortEvent(PortChange.REMOVED, port) for url, port in before.items() if url not in now]
    added = [PortEvent(PortChange.ADDED, port) for url, port in now.items() if url not in before]
    return removed + added


class PortWatcher:
    """Calls `on_event` for each port added or removed between polls of `snapshot`.

    The first poll reports every present port as added, so a listener needs no separate initial
    listing. `poll()` can be called directly (tests, a CLI one-shot); `start()` polls on a daemon
    thread every `interval` seconds until `stop()`.
    """

    def __init__(
        self,
        snapshot: Snapshot,
        on_event: PortCallback,
        interval: float = 1.0,
        on_error: ErrorCallback | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._on_event = on_event
        self._on_error = on_error
        self._interval = interval
        self._known: dict[str, PortInfo] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def known(self) -> list[PortInfo]:
        with self._lock:
            return list(self._known.values())

    def poll(self) -> list[PortEvent]:
        with self._lock:
            current = list(self._snapshot())
            events = diff_ports(self._known, current)
            self._known = {port.url: port for port in current}
        for event in events:
            self._on_event(event)
        return events

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="port-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception as error:  # a failed scan must not kill the watcher; report and go on
                if self._on_error is not None:
                    self._on_error(error)
            self._stop.wait(self._interval)
