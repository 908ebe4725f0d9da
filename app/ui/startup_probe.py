"""Cold-start probe: with QL_STATION_STARTUP_PROBE=1 the app prints when its window first paints, then quits.

benchmarks/gui_cold_start.py starts the app in a subprocess with this variable set and reads the line
`window-shown <seconds since process start>` from stdout. Seconds come from the OS's record of when the
process started (/proc on Linux); elsewhere from the moment this module was imported, which misses only
the interpreter's own start-up (the benchmark times the whole subprocess from outside as well).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TextIO

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget

ENV = "QL_STATION_STARTUP_PROBE"
MARKER = "window-shown"
_IMPORTED = time.monotonic()


def seconds_since_process_start() -> float:
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start time, clock ticks after boot
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - started)
    except (OSError, ValueError, IndexError):
        return time.monotonic() - _IMPORTED


class StartupProbe(QObject):
    def __init__(self, out: TextIO | None = None) -> None:
        super().__init__()
        self._out = out or sys.stdout
        self.fired = False

    @classmethod
    def from_env(cls) -> StartupProbe | None:
        return cls() if os.environ.get(ENV) == "1" else None

    def watch(self, window: QWidget) -> None:
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and not self.fired:
            self.fired = True
            print(f"{MARKER} {seconds_since_process_start():.3f}", file=self._out, flush=True)
            QTimer.singleShot(0, QCoreApplication.quit)
        return False
