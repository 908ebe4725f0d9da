"""A batch's DeviceIDs written to a file: JSON in the batch file format, or CSV with state and date.

The JSON is exactly what `batch add --file` and the Create batch dialog read (`{"devices": [...]}`), so an
export can be loaded into another instance as it is. CSV carries the state and the date each device was
added, for a spreadsheet. DeviceIDs are not secret. The file is written next to its final name and moved
into place at the end, so a failed or cancelled export never leaves half a file under the name asked for.
Listing pages through the instance, so a million devices cost no more memory than a page.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Callable
from enum import Enum
from pathlib import Path

from app.domain.errors import StationError, ValidationError
from app.domain.paging import iterate_pages
from app.domain.records import Device, Page, PageRequest
from app.instance.api import Instance

CSV_HEADER = ("device_id", "state", "added_at")


class ExportFormat(Enum):
    JSON = "json"
    CSV = "csv"

    @classmethod
    def for_path(cls, path: Path, given: str | None = None) -> ExportFormat:
        """The format asked for, else the file's extension (.csv is CSV, anything else JSON)."""
        if given:
            for choice in cls:
                if choice.value == given.strip().lower():
                    return choice
            raise ValidationError(f"export format must be json or csv, not {given!r}")
        return cls.CSV if path.suffix.lower() == ".csv" else cls.JSON


def export_batch(
    instance: Instance,
    batch: str,
    path: Path,
    fmt: ExportFormat | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the batch's devices to `path`; return how many. `progress` hears the count as it grows."""
    name = instance.get_batch(batch).name
    chosen = fmt or ExportFormat.for_path(path)

    def fetch(page: PageRequest) -> Page[Device]:
        return instance.list_devices(name, page)

    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise StationError(f"cannot write in {folder}: {exc.strerror or exc}") from None
    written = 0
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            if chosen is ExportFormat.CSV:
                writer = csv.writer(out)
                writer.writerow(CSV_HEADER)
                for device in iterate_pages(fetch):
                    writer.writerow((device.device_id, device.state.value, device.added_at.isoformat()))
                    written += 1
                    if progress is not None and written % 10_000 == 0:
                        progress(written)
            else:
                out.write('{"devices": [')
                for device in iterate_pages(fetch):
                    out.write(("\n  " if written == 0 else ",\n  ") + json.dumps(device.device_id))
                    written += 1
                    if progress is not None and written % 10_000 == 0:
                        progress(written)
                out.write("\n]}\n" if written else "]}\n")
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise StationError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return written
