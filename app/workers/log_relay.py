"""The station's own log, carried from any thread to the GUI thread in coalesced batches.

A `logging.Handler` may be called from any thread (port supervisors, the thread pool, esptool's
callbacks). It only appends a plain `LogLine` to a bounded buffer under a lock; the first line of a
burst wakes the relay on the GUI thread, which waits `flush_ms` and then hands every buffered line over
in one `lines_ready` emission. A thousand log lines a second therefore cost the GUI ten model updates,
not a thousand (Picard's TailLogger, with Picard's time-budgeted batching).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

DEFAULT_FLUSH_MS = 100
DEFAULT_BUFFER = 10_000


@dataclass(frozen=True)
class LogLine:
    """One log record as plain data: nothing in it refers back to the thread that logged it."""

    created: float
    level: int
    logger: str
    message: str

    @property
    def level_name(self) -> str:
        return logging.getLevelName(self.level)


class LogRelay(QObject):
    """Create on the GUI thread; `attach()` it to a logger; connect to `lines_ready`."""

    lines_ready = Signal(list)
    _wake = Signal()

    def __init__(
        self, flush_ms: int = DEFAULT_FLUSH_MS, buffer: int = DEFAULT_BUFFER, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._flush_ms = flush_ms
        self._lock = threading.Lock()
        self._pending: deque[LogLine] = deque(maxlen=buffer)
        self._dropped = 0
        self._closed = False
        self._wake.connect(self._schedule, Qt.ConnectionType.QueuedConnection)
        self.handler = _RelayHandler(self)
        self._loggers: list[logging.Logger] = []

    def attach(self, logger: logging.Logger) -> None:
        logger.addHandler(self.handler)
        self._loggers.append(logger)

    def detach(self) -> None:
        """Stop listening; call before the relay goes away so no thread reaches a dead object."""
        with self._lock:
            self._closed = True
        for logger in self._loggers:
            logger.removeHandler(self.handler)
        self._loggers.clear()

    def submit(self, line: LogLine) -> None:
        """Called by the handler on any thread."""
        with self._lock:
            if self._closed:
                return
            first = not self._pending
            if len(self._pending) == self._pending.maxlen:
                self._dropped += 1
            self._pending.append(line)
        if first:
            self._wake.emit()

    @Slot()
    def _schedule(self) -> None:
        QTimer.singleShot(self._flush_ms, self, self.flush)

    @Slot()
    def flush(self) -> None:
        with self._lock:
            lines = list(self._pending)
            self._pending.clear()
            dropped, self._dropped = self._dropped, 0
        if dropped:
            lines.insert(
                0,
                LogLine(
                    lines[0].created if lines else 0.0,
                    logging.WARNING,
                    __name__,
                    f"{dropped} log lines were dropped: they came faster than the window could show them",
                ),
            )
        if lines:
            self.lines_ready.emit(lines)


class _RelayHandler(logging.Handler):
    def __init__(self, relay: LogRelay) -> None:
        super().__init__(logging.DEBUG)
        self._relay = relay
        self._exceptions = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message = f"{message}\n{self._exceptions.formatException(record.exc_info)}"
            self._relay.submit(LogLine(record.created, record.levelno, record.name, message))
        except RuntimeError:
            pass  # the relay's Qt object is gone (window closed while a thread still logs)
        except Exception:
            self.handleError(record)
