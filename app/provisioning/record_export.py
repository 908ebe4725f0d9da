"""Provisioning records out of the station: CSV for spreadsheets, JSON for programs.

Both formats carry the same fields, the step log included (CSV: one line per step event in one cell;
JSON: a list of objects). Rows are written as they are read, page by page, so exporting 100,000 records
never holds them all in memory. A CSV cell that starts like a formula is quoted (a spreadsheet would
run it). Nothing secret is in a record, and the step log was redacted before it was stored.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from app.domain.errors import StationError, ValidationError
from app.provisioning.step_log import as_text, to_json

if TYPE_CHECKING:
    from app.provisioning.records import ProvisioningRecord

CSV_COLUMNS = (
    "id", "time", "operator", "station", "port", "mode", "chip", "mac", "device_id", "task", "batch",
    "image_sha256s", "outcome", "duration_s", "error", "push_state", "step", "step_log", "warning",
)  # fmt: skip
"""`warning` (why a pass is not plain) came last, after the others, so readers by position still work."""


class ExportFormat(Enum):
    CSV = "csv"
    JSON = "json"


class ExportError(StationError):
    """The export file could not be written (a folder that does not exist, no permission, disk full)."""


def format_for(path: Path, given: str | None = None) -> ExportFormat:
    """The format a person asked for, or the one the file name says (.json, else CSV)."""
    if given:
        try:
            return ExportFormat(given.strip().lower())
        except ValueError:
            raise ValidationError(f"the export format must be csv or json; got {given[:20]!r}") from None
    return ExportFormat.JSON if path.suffix.lower() == ".json" else ExportFormat.CSV


def csv_row(record: ProvisioningRecord) -> tuple[Any, ...]:
    return (
        record.id,
        record.at.isoformat(timespec="seconds"),
        record.operator,
        record.station,
        record.port,
        record.mode,
        record.chip,
        record.mac,
        record.device_id,
        record.task,
        record.batch,
        " ".join(record.image_sha256s),
        record.outcome.value,
        f"{record.duration_s:.1f}",
        record.error,
        record.push_state.value,
        record.step,
        as_text(record.step_log),
        record.warning,
    )


def as_json(record: ProvisioningRecord) -> dict[str, Any]:
    values = dict(zip(CSV_COLUMNS, csv_row(record), strict=True))
    values["image_sha256s"] = list(record.image_sha256s)
    values["duration_s"] = round(record.duration_s, 3)
    values["step_log"] = to_json(record.step_log)
    return values


def write_records(path: Path, records: Iterable[ProvisioningRecord], fmt: ExportFormat) -> int:
    """Write `records` to `path` in `fmt`; returns how many were written."""
    try:
        with path.open("w", newline="", encoding="utf-8") as handle:
            return _write_csv(handle, records) if fmt is ExportFormat.CSV else _write_json(handle, records)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None


def _write_csv(handle: IO[str], records: Iterable[ProvisioningRecord]) -> int:
    writer = csv.writer(handle)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for record in records:
        writer.writerow([_csv_cell(value) for value in csv_row(record)])
        count += 1
    return count


def _write_json(handle: IO[str], records: Iterable[ProvisioningRecord]) -> int:
    """A JSON array, one record per line: valid JSON and still readable with line tools."""
    count = 0
    handle.write("[")
    for record in records:
        handle.write(",\n" if count else "\n")
        handle.write(json.dumps(as_json(record), ensure_ascii=False, separators=(",", ":")))
        count += 1
    handle.write("\n]\n" if count else "]\n")
    return count


def _csv_cell(value: object) -> object:
    """A spreadsheet runs a cell that starts with = + - @ as a formula: quote such text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    if isinstance(value, Enum):
        return value.value
    return value
