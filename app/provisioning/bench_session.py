"""The lab bench as the window drives it: one call per look or action, each with the port reserved.

Every call here blocks (it talks to the board) and is meant for a worker thread. Each reserves the port
as provisioning does (app/ports/reservation), so the window never touches a board the station is
provisioning, and opens the bench (connect + identify) for that one call only: a board left alone on
the bench is not held in download mode. `MonitorSession` runs the serial console on its own thread and
hands lines over in batches, so the window repaints a few times a second, not once per line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from app.domain.errors import StationError
from app.domain.records import PageRequest
from app.flashing.board_bench import BenchRefusedError, BoardBench, EfuseTable
from app.flashing.board_facts import BoardFacts
from app.flashing.serial_monitor import MonitorControl, ResetKind, monitor
from app.ports.reservation import reserve_port
from app.provisioning import serial_urls
from app.provisioning.records import ProvisioningRecord, RecordsDB
from app.system.paths import DataDir

HISTORY_LIMIT = 20
SIM_AP_PASSWORD_FILE = "access-point-password"  # noqa: S105 - a file name (written by `ql-station sim`)
MONITOR_KEEP_LINES = 5000
T = TypeVar("T")


@dataclass(frozen=True)
class BoardLook:
    """Everything the Identify action learns: the facts, the eFuse table (or why not), the history."""

    facts: BoardFacts
    efuses: EfuseTable | None
    efuses_problem: str
    history: tuple[ProvisioningRecord, ...]


def on_bench(data_dir: Path, url: str, holder: str, action: Callable[[BoardBench], T]) -> T:
    """Reserve the port, open the bench, run `action`, close (reset) the board, release the port."""
    serial_urls.install()
    with reserve_port(data_dir, url, holder), BoardBench.open(url) as bench:
        return action(bench)


def look_at_board(data_dir: Path, url: str) -> BoardLook:
    def look(bench: BoardBench) -> BoardLook:
        try:
            table, problem = bench.efuses(virtual=True), ""
        except BenchRefusedError as exc:
            table, problem = None, str(exc)
        return BoardLook(bench.facts, table, problem, tuple(board_history(data_dir, bench.facts.mac)))

    return on_bench(data_dir, url, "ql-station Board page", look)


def board_history(data_dir: Path, mac: str | None, limit: int = HISTORY_LIMIT) -> list[ProvisioningRecord]:
    """This station's provisioning records of the board with `mac`, newest first."""
    path = DataDir(data_dir).records_db
    if mac is None or not path.exists():
        return []
    with RecordsDB(path) as records:
        page = records.list_records(PageRequest(search=mac, limit=limit))
    return [r for r in page.items if r.mac == mac]


def sim_access_point_password(data_dir: Path) -> str | None:
    """The password of the simulated WiFi network, if `ql-station sim` runs for this data folder: a
    virtual board prints nothing secret, but the monitor masks it like any WiFi password."""
    path = DataDir(data_dir).sim_boards / SIM_AP_PASSWORD_FILE
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n") or None
    except (OSError, UnicodeDecodeError):
        return None


class MonitorSession:
    """The serial console of one board on a thread of its own, until `stop()`.

    Lines (already masked) pile up in a buffer the window takes with `take_lines()`; `error` holds the
    failure that ended the session, if one did. The port is reserved for the session's life.
    """

    def __init__(
        self, data_dir: Path, url: str, mask: Callable[[str], str], reset: ResetKind = ResetKind.FIRMWARE
    ) -> None:
        self.url = url
        self.error: StationError | None = None
        self._data_dir = data_dir
        self._mask = mask
        self._reset = reset
        self._control = MonitorControl()
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._thread = threading.Thread(target=self._run, name=f"monitor-{url}", daemon=True)

    def start(self) -> MonitorSession:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def reset(self, kind: ResetKind) -> None:
        self._control.reset(kind)

    def stop(self, wait: float = 2.0) -> None:
        self._control.stop()
        if self._thread.is_alive():
            self._thread.join(wait)

    def take_lines(self) -> list[str]:
        with self._lock:
            lines, self._lines = self._lines, []
        return lines

    def _keep(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)
            if len(self._lines) > MONITOR_KEEP_LINES:
                del self._lines[: len(self._lines) - MONITOR_KEEP_LINES]

    def _run(self) -> None:
        serial_urls.install()
        try:
            with reserve_port(self._data_dir, self.url, "ql-station Board page monitor"):
                monitor(self.url, self._keep, mask=self._mask, control=self._control, reset=self._reset)
        except StationError as exc:
            self.error = exc
