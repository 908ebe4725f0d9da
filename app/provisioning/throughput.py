"""Throughput and yield of a shift, from the provisioning records: plain numbers, no Qt.

A line lead asks two things at a glance: "how many boards an hour are we doing?" and "what fails
most?". The records file answers both with two grouped queries (`RecordsDB.outcome_counts`,
`RecordsDB.failure_counts`); this module turns their rows into what the Throughput page plots and the
tests check: per-bucket pass/fail counts over the whole window (empty hours are zeros, not gaps),
the shift's yield, and a failure Pareto by step and reason.

Reasons are free text that names the board ("DeviceID 3f2a... belongs to batch 'line-2'", "on
/dev/ttyUSB3"), so the Pareto groups them by `reason_key`: DeviceIDs, MACs, port names and numbers
are masked, so the same failure on a hundred boards is one bar, not a hundred.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.provisioning.events import Outcome

HOUR_S = 3600
MAX_BUCKETS = 24 * 31
TOP_REASONS = 8
MAX_REASON_CHARS = 90
OTHER = "other reasons"

_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:rfc2217|socket|loop)://\S+|/dev/\S+|\bCOM\d+\b", re.IGNORECASE), "<port>"),
    (re.compile(r"\b(?:[0-9a-f]{2}:){5}[0-9a-f]{2}\b", re.IGNORECASE), "<mac>"),
    (re.compile(r"\b[0-9a-f]{12,}\b(?:\.\.\.|…)?", re.IGNORECASE), "<id>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.IGNORECASE), "<n>"),
    (re.compile(r"(?<![\w.-])\d+(?:\.\d+)?(?![\w-])"), "<n>"),  # not the 2 of batch 'line-2'
)


@dataclass(frozen=True)
class Bucket:
    """Records that ended in one bucket of time (an hour, or a day for a long window)."""

    start: datetime
    seconds: int
    passed: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def boards(self) -> int:
        return self.passed + self.failed + self.cancelled

    @property
    def per_hour(self) -> float:
        """Boards finished per hour in this bucket (a day's bucket is divided by 24)."""
        return self.boards * HOUR_S / self.seconds


@dataclass(frozen=True)
class Throughput:
    since: datetime
    until: datetime
    buckets: tuple[Bucket, ...]

    @property
    def passed(self) -> int:
        return sum(b.passed for b in self.buckets)

    @property
    def failed(self) -> int:
        return sum(b.failed for b in self.buckets)

    @property
    def cancelled(self) -> int:
        return sum(b.cancelled for b in self.buckets)

    @property
    def boards(self) -> int:
        return self.passed + self.failed + self.cancelled

    @property
    def yield_share(self) -> float | None:
        """Passed out of passed and failed (a cancelled board was not tried to the end); None if none."""
        tried = self.passed + self.failed
        return self.passed / tried if tried else None

    @property
    def per_hour(self) -> float:
        """Boards per hour over the window, from its first record's hour (a shift that started at 10:00
        in a window from 06:00 is not diluted by the hours before it)."""
        active = [b for b in self.buckets if b.boards]
        if not active:
            return 0.0
        seconds = (self.until - active[0].start).total_seconds()
        return self.boards * HOUR_S / max(seconds, float(HOUR_S) / 60)

    @property
    def best_hour(self) -> Bucket | None:
        return max(self.buckets, key=lambda b: b.boards, default=None) if self.boards else None


@dataclass(frozen=True)
class ParetoBar:
    """One failure cause: the step it failed at and the reason's shape, with its share of failures."""

    step: str
    reason: str
    count: int
    share: float
    cumulative: float

    @property
    def label(self) -> str:
        return f"{self.step}: {self.reason}" if self.step else self.reason


def bucket_seconds(since: datetime, until: datetime) -> int:
    """An hour, or a day when hours would be too many bars to read (a window past two days)."""
    return HOUR_S if until - since <= timedelta(days=2) else 24 * HOUR_S


def throughput(
    counts: Iterable[tuple[int, Outcome, int]], since: datetime, until: datetime, seconds: int = HOUR_S
) -> Throughput:
    """Fold (bucket start in ms, outcome, records) rows into every bucket from `since` to `until`."""
    if until <= since:
        raise ValueError("the window must end after it starts")
    if seconds <= 0:
        raise ValueError("a bucket lasts at least a second")
    step_ms = seconds * 1000
    first = _floor_ms(since, step_ms)
    last = _floor_ms(until - timedelta(milliseconds=1), step_ms)
    if (last - first) // step_ms + 1 > MAX_BUCKETS:
        raise ValueError(f"more than {MAX_BUCKETS} buckets: choose a shorter window or longer buckets")
    tallies: dict[int, dict[Outcome, int]] = {start: {} for start in range(first, last + 1, step_ms)}
    for start, outcome, number in counts:
        bucket = tallies.get(start - start % step_ms)
        if bucket is not None:
            bucket[outcome] = bucket.get(outcome, 0) + number
    buckets = tuple(
        Bucket(
            start=datetime.fromtimestamp(start / 1000, UTC),
            seconds=seconds,
            passed=tally.get(Outcome.PASS, 0),
            failed=tally.get(Outcome.FAIL, 0),
            cancelled=tally.get(Outcome.CANCELLED, 0),
        )
        for start, tally in tallies.items()
    )
    return Throughput(since=since, until=until, buckets=buckets)


def _floor_ms(moment: datetime, step_ms: int) -> int:
    ms = int(moment.timestamp() * 1000)
    return ms - ms % step_ms


def reason_key(reason: str) -> str:
    """The shape of a failure reason: the board-specific parts masked, the first clause, bounded."""
    text = " ".join(reason.split())
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    text = text.split("; ")[0].strip() or "no reason given"
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def failure_pareto(counts: Iterable[tuple[str, str, int]], top: int = TOP_REASONS) -> tuple[ParetoBar, ...]:
    """(step, reason, records) rows as Pareto bars, most frequent first; past `top`, one 'other' bar."""
    grouped: dict[tuple[str, str], int] = {}
    for step, reason, number in counts:
        key = (step, reason_key(reason))
        grouped[key] = grouped.get(key, 0) + number
    ordered = sorted(grouped.items(), key=lambda item: (-item[1], item[0]))
    total = sum(grouped.values())
    if len(ordered) > top:
        rest = sum(number for _, number in ordered[top - 1 :])
        ordered = [*ordered[: top - 1], (("", OTHER), rest)]
    bars: list[ParetoBar] = []
    running = 0
    for (step, reason), number in ordered:
        running += number
        bars.append(ParetoBar(step, reason, number, number / total, running / total))
    return tuple(bars)
