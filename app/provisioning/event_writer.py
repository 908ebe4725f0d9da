"""The worker's side of the event stream: typed events in, one redacted JSON line each out.

Every line leaves through `EventWriter.emit`, so this is the one place that makes sure the WiFi password
never reaches the station's logs, the CLI's `--json` output or a record, whatever a board or esptool
happened to print: each text value is redacted before it is encoded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from app.flashing.flash_events import FlashEvent, FlashLog, FlashProgress, LogLevel
from app.provisioning.events import (
    ErrorEvent,
    Event,
    LogEvent,
    LogSource,
    ProgressEvent,
    Step,
    StepEvent,
    StepStatus,
)
from app.provisioning.job import Redactor
from app.provisioning.step_facts import StepFacts

LineSink = Callable[[str], None]
WRITE_LOCK_TIMEOUT = 5.0


class EventWriter:
    """Writes events about one port. Safe to call from several threads (the watchdog writes too)."""

    def __init__(self, port: str, write_line: LineSink, redact: Redactor) -> None:
        self.port = port
        self._write_line = write_line
        self._redact = redact
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        fields = event.to_dict()
        line = json.dumps(fields, separators=(",", ":"))
        if not self._redact.covers_encoded(line):
            line = json.dumps(self._redacted(fields), separators=(",", ":"))
        if not self._lock.acquire(timeout=WRITE_LOCK_TIMEOUT):
            return  # the other writer is stuck on a full pipe: the station has stopped reading anyway
        try:
            self._write_line(line)
        finally:
            self._lock.release()

    def _redacted(self, value: Any) -> Any:
        """Every text in the event, however deep (the facts are nested), with the secrets masked."""
        if isinstance(value, str):
            return self._redact(value)
        if isinstance(value, dict):
            return {key: self._redacted(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._redacted(item) for item in value]
        return value

    def log(self, text: str, level: str = "info", source: LogSource = LogSource.ENGINE) -> None:
        self.emit(LogEvent(port=self.port, level=level, source=source, text=text))

    def error(self, step: Step, message: str, kind: str) -> None:
        self.emit(ErrorEvent(port=self.port, step=step, message=message, kind=kind))

    def step(self, step: Step, status: StepStatus, message: str = "", facts: StepFacts | None = None) -> None:
        self.emit(
            StepEvent(port=self.port, step=step, status=status, message=message, facts=facts or StepFacts())
        )

    def flash_sink(self, event: FlashEvent) -> None:
        """What app.flashing reports (esptool's lines and byte progress), as our events."""
        if isinstance(event, FlashLog):
            if event.level is not LogLevel.DEBUG:
                self.log(event.text, event.level.value, LogSource.ESPTOOL)
        elif isinstance(event, FlashProgress):
            self.emit(
                ProgressEvent(
                    port=self.port,
                    step=Step.FLASH,
                    index=event.index,
                    count=event.count,
                    name=event.name,
                    image_done=event.image_done,
                    image_total=event.image_total,
                    overall_done=event.overall_done,
                    overall_total=event.overall_total,
                )
            )
