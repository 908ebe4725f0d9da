"""Which provisioning records a person asked for: search text, outcome, batch, task, operator, dates.

One filter type for the CLI (`ql-station records --outcome fail --batch line-1 --since 2025-03-01`),
the Records page and the exports, so a filtered export holds exactly the rows the page shows. It turns
into one SQL WHERE clause with parameters; the exact-match parts use the records file's indexes, the
search text is a substring match over the columns a person would type from (port, MAC, DeviceID, ...),
answered by the search index where the records file has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from app.domain.errors import ValidationError
from app.provisioning.events import Outcome
from app.provisioning.record_search import MIN_INDEXED, search_where
from app.system.sqlite_file import to_ms

MAX_FILTER_TEXT = 200


@dataclass(frozen=True)
class RecordFilter:
    """Every part is optional; an empty filter matches every record. `until` is exclusive.
    `warned`: only passes with a warning (app/provisioning/pass_warning.py), whatever `outcome` says."""

    search: str = ""
    outcome: Outcome | None = None
    warned: bool = False
    batch: str = ""
    task: str = ""
    operator: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("search", "batch", "task", "operator"):
            if len(getattr(self, name)) > MAX_FILTER_TEXT:
                raise ValidationError(f"the {name} filter is longer than {MAX_FILTER_TEXT} characters")
        for name in ("since", "until"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise ValidationError(f"the {name} time has no time zone")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValidationError(
                f"the date range is empty: from {self.since.isoformat(timespec='minutes')} "
                f"is not before {self.until.isoformat(timespec='minutes')}"
            )

    def where(self, indexed: bool = False) -> tuple[str, list[Any]]:
        """The WHERE clause (never empty: '1' matches all) and its parameters. With `indexed`, the
        search text is looked up in the records' search index (app/provisioning/record_search.py)."""
        clauses: list[str] = []
        params: list[Any] = []
        search, search_params = search_where(self.search, indexed)
        if search_params:
            clauses.append(search)
            params += search_params
        for column, value in (("batch", self.batch), ("task", self.task), ("operator", self.operator)):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.warned:
            clauses.append("outcome = ? AND warning != ''")
            params.append(Outcome.PASS.value)
        elif self.outcome is not None:
            clauses.append("outcome = ?")
            params.append(self.outcome.value)
        if self.since is not None:
            clauses.append("at_ms >= ?")
            params.append(to_ms(self.since))
        if self.until is not None:
            clauses.append("at_ms < ?")
            params.append(to_ms(self.until))
        return (" AND ".join(clauses) or "1"), params

    def searches_index(self) -> bool:
        """Whether the search text is answered by the search index (given the file has one)."""
        return len(self.search.strip()) >= MIN_INDEXED

    def describe(self) -> str:
        """In words, for an export's message and the page's count line ('' when it matches all)."""
        parts = []
        if self.search.strip():
            parts.append(f"mentioning {self.search.strip()!r}")
        if self.warned:
            parts.append("passed with a warning")
        elif self.outcome is not None:
            parts.append(f"outcome {self.outcome.value}")
        for name in ("batch", "task", "operator"):
            if getattr(self, name):
                parts.append(f"{name} {getattr(self, name)!r}")
        if self.since is not None:
            parts.append(f"from {self.since.astimezone().isoformat(sep=' ', timespec='minutes')}")
        if self.until is not None:
            parts.append(f"before {self.until.astimezone().isoformat(sep=' ', timespec='minutes')}")
        return ", ".join(parts)


EVERY_RECORD = RecordFilter()


def parse_moment(text: str, option: str, *, end_of_day: bool = False) -> datetime:
    """A date or a date and time a person typed (ISO 8601). Without a time zone it is local time.

    A plain date means the start of that day, or with `end_of_day` the start of the next one, so
    `--since 2025-03-01 --until 2025-03-01` is that whole day.
    """
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day + timedelta(days=1 if end_of_day else 0), time())
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"{option} must be a date (2025-03-01) or a date and time (2025-03-01T14:30); got {text[:40]!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.astimezone()


WARNED = "warning"
"""The outcome a person types for passes with a warning (`records --outcome warning`)."""


def parse_outcome(text: str) -> Outcome:
    try:
        return Outcome(text.strip().lower())
    except ValueError:
        accepted = ", ".join(o.value for o in Outcome)
        raise ValidationError(
            f"the outcome must be one of {accepted} or {WARNED} (passed with a warning); got {text[:40]!r}"
        ) from None


def outcome_filter(text: str) -> tuple[Outcome, bool]:
    """What `--outcome TEXT` (or the page's result list) asks for: (outcome, only passes with a warning)."""
    if text.strip().lower() == WARNED:
        return Outcome.PASS, True
    return parse_outcome(text), False
