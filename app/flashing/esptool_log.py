"""An esptool logger that turns esptool's console output into typed events.

esptool reports everything (progress, warnings, "Hash of data verified.") through one process-global
logger (`esp_pylib.logger.EspLog.instance`). We replace it with this one so nothing reaches stdout
(the port worker's stdout carries JSON events) and a person sees esptool's words in the slot's log.
Install it before esptool is imported: a few esptool warnings bind the logger at import time. The
station runs one port per process, so one logger per process is all it needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from esp_pylib.logger import EspLog, EspLogBase

from app.flashing.flash_events import EventSink, FlashLog, LogLevel, discard

ProgressHook = Callable[[int, int], None]
_MARKUP_ESCAPE = re.compile(r"\\(\[)")


class EventLogger(EspLogBase):
    """Collects esptool's output into whole lines and hands them, and progress, to the current sink."""

    def __init__(self) -> None:
        self._sink: EventSink = discard
        self._progress: ProgressHook | None = None
        self._partial = ""

    @contextmanager
    def routed(self, sink: EventSink, progress: ProgressHook | None = None) -> Iterator[None]:
        """Send events to `sink` (and byte progress to `progress`) for the duration of the block."""
        previous = self._sink, self._progress
        self._sink, self._progress = sink, progress
        try:
            yield
        finally:
            self._flush_partial()
            self._sink, self._progress = previous

    def _emit(self, level: LogLevel, text: str) -> None:
        text = _MARKUP_ESCAPE.sub(r"\1", text).strip()
        if text:
            self._sink(FlashLog(level, text))

    def _flush_partial(self) -> None:
        if self._partial:
            line, self._partial = self._partial, ""
            self._emit(LogLevel.INFO, line)

    def print(self, *args: Any, **kwargs: Any) -> None:
        sep = str(kwargs.get("sep", " "))
        end = str(kwargs.get("end", "\n"))
        self._partial += sep.join(str(a) for a in args) + end
        if "\n" in self._partial:
            *lines, self._partial = self._partial.split("\n")
            for line in lines:
                self._emit(LogLevel.INFO, line)

    def note(self, *args: Any) -> None:
        self._emit(LogLevel.NOTE, _join(args))

    def hint(self, *args: Any) -> None:
        self._emit(LogLevel.NOTE, _join(args))

    def debug(self, *args: Any) -> None:
        self._emit(LogLevel.DEBUG, "".join(str(a) for a in args))

    def warn(self, *args: Any, suggestion: str | None = None) -> None:
        self._emit(LogLevel.WARNING, _join(args) + (f" ({suggestion})" if suggestion else ""))

    def err(self, *args: Any, suggestion: str | None = None) -> None:
        self._emit(LogLevel.ERROR, _join(args) + (f" ({suggestion})" if suggestion else ""))

    def warning(self, message: str, suggestion: str | None = None) -> None:
        self.warn(message, suggestion=suggestion)

    def error(self, message: str, suggestion: str | None = None) -> None:
        self.err(message, suggestion=suggestion)

    def set_verbosity(self, mode: int | str) -> None:
        """esptool's CLI verbosity has no meaning here: every line becomes an event, the sink filters."""

    def progress_bar(
        self, cur_iter: int, total_iters: int, prefix: str = "", suffix: str = "", bar_length: int = 30
    ) -> None:
        if self._progress is not None:
            self._progress(cur_iter, total_iters)


def _join(args: tuple[Any, ...]) -> str:
    return " ".join(str(a) for a in args)


def install_event_logger() -> EventLogger:
    """Make our logger esptool's logger for this process (idempotent) and return it."""
    current = EspLog.instance
    if isinstance(current, EventLogger):
        return current
    logger = EventLogger()
    EspLog.set_logger(logger)
    return logger
