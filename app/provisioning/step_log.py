"""A board's step log for its provisioning record: what each step did and when, bounded and redacted.

The station log scrolls away and the port's drawer is gone after a restart, but a person looking at a
failed board next week needs its steps: when detect, check, flash, boot and IEF started and ended, and
the sentence the failing step gave. So each record keeps the step events of its run (not the board's
UART chatter: that is what the console is for). The log is bounded however a board behaves (a step
that repeats for minutes keeps its first and its last events, and says how many were left out), and
every message passes the run's `Redactor` on the way in, so the WiFi password can never reach the
records file or an export through a message that happened to quote it.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_ENTRIES = 60
KEPT_FROM_START = 12
MAX_MESSAGE_CHARS = 400
SKIPPED = "skipped"
"""The status of the one entry that stands for the events left out of a bounded log."""


@dataclass(frozen=True, slots=True)
class StepLogEntry:
    """One step event: `status` is started, passed, failed (a step's) or error (an error event)."""

    at: datetime
    step: str
    status: str
    message: str = ""

    def line(self) -> str:
        """One line for people: local time, step, status, message."""
        text = f"{self.at.astimezone().strftime('%H:%M:%S.%f')[:-3]}  {self.step:<7} {self.status}"
        return f"{text}: {self.message}" if self.message else text


class StepLog:
    """Collects one run's step events (on the run's reader thread); `entries()` is the bounded log."""

    def __init__(
        self,
        redact: Callable[[str], str],
        max_entries: int = MAX_ENTRIES,
        kept_from_start: int = KEPT_FROM_START,
    ) -> None:
        if not 0 < kept_from_start < max_entries - 1:
            raise ValueError("a step log keeps fewer entries from its start than in all, and at least one")
        self._redact = redact
        self._head: list[StepLogEntry] = []
        self._head_size = kept_from_start
        self._tail: deque[StepLogEntry] = deque(maxlen=max_entries - kept_from_start - 1)
        self._dropped = 0

    def add(self, at: datetime, step: str, status: str, message: str = "") -> None:
        entry = StepLogEntry(at=at, step=step, status=status, message=bounded(self._redact(message)))
        if len(self._head) < self._head_size:
            self._head.append(entry)
            return
        if len(self._tail) == self._tail.maxlen:
            self._dropped += 1
        self._tail.append(entry)

    def entries(self) -> tuple[StepLogEntry, ...]:
        if not self._dropped:
            return (*self._head, *self._tail)
        first_kept = self._tail[0].at
        gap = StepLogEntry(first_kept, "", SKIPPED, f"{self._dropped} step event(s) not kept")
        return (*self._head, gap, *self._tail)


def bounded(text: str) -> str:
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return text[: MAX_MESSAGE_CHARS - 1] + "…"


def to_json(entries: Sequence[StepLogEntry]) -> list[dict[str, Any]]:
    return [
        {
            "at": e.at.isoformat(timespec="milliseconds"),
            "step": e.step,
            "status": e.status,
            "message": e.message,
        }
        for e in entries
    ]


def encode(entries: Sequence[StepLogEntry]) -> str:
    """The log as stored in the records file: compact JSON, milliseconds since the epoch."""
    if not entries:
        return ""
    rows = [[round(e.at.timestamp() * 1000), e.step, e.status, e.message] for e in entries]
    return json.dumps(rows, separators=(",", ":"), ensure_ascii=False)


def decode(text: str) -> tuple[StepLogEntry, ...]:
    """The stored log; a damaged one reads as what could be read (a record must still show)."""
    if not text:
        return ()
    try:
        rows = json.loads(text)
    except json.JSONDecodeError:
        return (StepLogEntry(datetime.fromtimestamp(0, UTC), "", "error", "the stored step log is damaged"),)
    entries: list[StepLogEntry] = []
    for row in rows if type(rows) is list else ():  # exact types: an export reads 100,000 of these
        if type(row) is list and len(row) == 4:
            ms, step, status, message = row
            if type(ms) is int and type(step) is str and type(status) is str and type(message) is str:
                entries.append(StepLogEntry(datetime.fromtimestamp(ms / 1000, UTC), step, status, message))
    return tuple(entries)


def as_text(entries: Sequence[StepLogEntry]) -> str:
    """The log for a CSV cell: one line per entry, times in UTC like the rest of an export."""
    lines = []
    for e in entries:
        at = e.at if e.at.tzinfo is UTC else e.at.astimezone(UTC)
        text = f"{at.isoformat(timespec='milliseconds')} {e.step} {e.status}"
        lines.append(f"{text}: {e.message}" if e.message else text)
    return "\n".join(lines)
