"""Devices: a million-row table that every operation touches only as much as it must.

- IDs are stored as 32-byte BLOBs; `device_id_blobs` validates and converts a whole input up front, so a
  bad ID rejects the call before any write.
- Each device has a sequence number within its batch (1, 2, 3, ... in the order added, never reused),
  and the table is clustered on (batch_id, seq): the page at offset k is the range seq > k, as cheap at
  offset 999,800 as at 0.
- `add` first tries a plain INSERT OR IGNORE inside a savepoint; only when that skipped something (an ID
  already in the instance) does it roll back and take the slower path that finds which ones, so that
  sequence numbers stay contiguous.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from app.domain.device_id import DeviceID, parse_device_id
from app.domain.errors import NotFoundError, ValidationError
from app.domain.kinds import DeviceState
from app.domain.records import AddDevicesResult, Device, Page, PageRequest, sample
from app.instance.local import batches
from app.instance.local.database import from_ms, now_ms

STATES: tuple[DeviceState, ...] = tuple(DeviceState)
STATE_CODE = {state: code for code, state in enumerate(STATES)}
_CHUNK = 500
_INSERT_CHUNK = 1 << 18  # IDs per INSERT statement: an 8 MiB BLOB
_GIL_SLICE = 1 << 15
"""IDs per step of the in-memory work on a large input. A C loop over a million items holds the GIL
for a few hundred milliseconds, and every other thread (the dashboard's reader, a server's other
requests) waits that long; in slices of 32,768 the interpreter can switch threads between them."""
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_HEX_PREFIX = re.compile(r"[0-9a-fA-F]{1,64}")


def device_id_blobs(values: Sequence[str]) -> list[bytes]:
    """Validate every ID and return them as bytes, in order; the first bad one is named by its index.

    The fast path converts in C, a slice at a time (`bytes.fromhex` skips whitespace, so lengths are
    checked on both sides); only an input with a problem is walked item by item to name it.
    """
    if isinstance(values, str | bytes):
        raise ValidationError("device IDs must be given as a list of IDs, not as a single text")
    if not isinstance(values, list | tuple):  # a number or an object off the wire: a sentence, not a 500
        raise ValidationError(f"device IDs must be given as a list of IDs, not as {type(values).__name__}")
    texts = values if isinstance(values, list) else list(values)
    blobs: list[bytes] = []
    for start in range(0, len(texts), _GIL_SLICE):
        part = texts[start : start + _GIL_SLICE]
        try:
            converted = list(map(bytes.fromhex, part))
        except (TypeError, ValueError):
            return _checked_one_by_one(texts)
        if set(map(len, part)) != {64} or set(map(len, converted)) != {32}:
            return _checked_one_by_one(texts)
        blobs += converted
    return blobs


def _checked_one_by_one(values: list[str]) -> list[bytes]:
    fullmatch = _HEX64.fullmatch
    texts = list(values)
    for index, value in enumerate(texts):
        if not (type(value) is str and fullmatch(value)):
            try:
                texts[index] = parse_device_id(value)
            except ValidationError as exc:
                raise ValidationError(f"device #{index + 1}: {exc}; nothing was changed") from None  # from 1
    return [bytes.fromhex(text) for text in texts]


def add(conn: sqlite3.Connection, batch_name: str, blobs: list[bytes]) -> AddDevicesResult:
    """Add validated IDs to a batch, skipping repeats and IDs already in the instance."""
    batch_id = batches.id_of(conn, batch_name)
    unique = _unique(blobs)
    repeated = len(blobs) - len(unique)
    duplicate_samples = _repeated_samples(blobs) if repeated else ()
    if not unique:
        return AddDevicesResult(added=0)
    base: int = conn.execute("SELECT last_seq FROM batches WHERE id = ?", (batch_id,)).fetchone()[0]
    added_ms = now_ms()
    conn.execute("SAVEPOINT add_devices")
    present: list[bytes] = []
    if _insert(conn, batch_id, base, unique, added_ms, skip_present=True) != len(unique):
        # Some IDs were already held: the sequence numbers they would have had are the gaps.
        inserted = {
            row[0]
            for row in conn.execute(
                "SELECT seq FROM devices WHERE batch_id = ? AND seq > ?", (batch_id, base)
            )
        }
        present = [blob for seq, blob in enumerate(unique, base + 1) if seq not in inserted]
        conn.execute("ROLLBACK TO add_devices")
        held = set(present)
        unique = [blob for blob in unique if blob not in held]
        _insert(conn, batch_id, base, unique, added_ms, skip_present=False)
    conn.execute("RELEASE add_devices")
    conn.execute("UPDATE batches SET last_seq = last_seq + ? WHERE id = ?", (len(unique), batch_id))
    batches.adjust_counts(conn, batch_id, {DeviceState.REGISTERED: len(unique)})
    return AddDevicesResult(
        added=len(unique),
        duplicates_in_input=repeated,
        already_present=len(present),
        duplicate_samples=duplicate_samples,
        present_samples=_holders(conn, sample(present)),
    )


def _insert(
    conn: sqlite3.Connection,
    batch_id: int,
    base: int,
    blobs: list[bytes],
    added_ms: int,
    *,
    skip_present: bool,
) -> int:
    """Insert `blobs` as seq base+1, base+2, ...; returns how many rows went in.

    The IDs travel as one concatenated BLOB per chunk and SQLite cuts it up itself: a million rows go in
    with a handful of statements instead of a million Python-bound parameter sets.
    """
    sql = _INSERT.format("OR IGNORE" if skip_present else "")
    before = conn.total_changes
    for start in range(0, len(blobs), _INSERT_CHUNK):
        chunk = blobs[start : start + _INSERT_CHUNK]
        conn.execute(sql, (len(chunk), batch_id, base + start, b"".join(chunk), added_ms))
    return conn.total_changes - before


_INSERT = (
    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?1) "
    "INSERT {} INTO devices (batch_id, seq, device_id, state, added_ms) "
    "SELECT ?2, ?3 + i + 1, substr(?4, i * 32 + 1, 32), 0, ?5 FROM n"
)


def list_devices(conn: sqlite3.Connection, batch_name: str, page: PageRequest) -> Page[Device]:
    """In the order added. `page.search` keeps IDs that start with the given hex digits."""
    batch = batches.get(conn, batch_name)
    batch_id = batches.id_of(conn, batch.name)
    columns = "device_id, state, added_ms"
    if not page.search.strip():
        rows = conn.execute(
            f"SELECT {columns} FROM devices WHERE batch_id = ? AND seq > ? ORDER BY seq LIMIT ?",  # noqa: S608
            (batch_id, page.offset, page.limit),
        ).fetchall()
        total = batch.counts.total
    else:
        low, high = _prefix_range(page.search)
        where = "batch_id = ? AND device_id BETWEEN ? AND ?"
        count_sql = f"SELECT count(*) FROM devices WHERE {where}"  # noqa: S608
        total = conn.execute(count_sql, (batch_id, low, high)).fetchone()[0]
        rows = conn.execute(
            f"SELECT {columns} FROM devices WHERE {where} ORDER BY seq LIMIT ? OFFSET ?",  # noqa: S608
            (batch_id, low, high, page.limit, page.offset),
        ).fetchall()
    items = tuple(_device(row, batch.name) for row in rows)
    return Page(items=items, total=total, offset=page.offset)


def move(conn: sqlite3.Connection, batch_name: str, blobs: list[bytes]) -> list[tuple[bytes, str]]:
    """Move existing devices into a batch; returns (ID, batch it came from) for each one moved.

    Each device leaves a hole in its old batch's sequence; the later devices there are renumbered so an
    offset stays exactly a position. That costs one range update per moved device, which is fine for
    what moves are for (re-enrolling a few devices from the field), not for shuffling whole batches.
    """
    target = batches.id_of(conn, batch_name)
    unique = list(dict.fromkeys(blobs))
    found: dict[bytes, str] = {}
    for chunk in in_chunks(unique):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            "SELECT d.device_id, b.name FROM devices AS d "  # noqa: S608
            f"JOIN batches AS b ON b.id = d.batch_id WHERE d.device_id IN ({marks})",
            chunk,
        )
        found.update((row[0], row[1]) for row in rows)
    missing = [blob for blob in unique if blob not in found]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise NotFoundError(f"device {missing[0].hex()}{more} is not in this instance; nothing was moved")
    moved: list[tuple[bytes, str]] = []
    added_ms = now_ms()
    for blob in unique:
        # Read the position now: moving an earlier device may have renumbered this one.
        source, seq, state = conn.execute(
            "SELECT batch_id, seq, state FROM devices WHERE device_id = ?", (blob,)
        ).fetchone()
        if source == target:
            continue
        conn.execute("DELETE FROM devices WHERE batch_id = ? AND seq = ?", (source, seq))
        # Two steps through negative numbers: a single seq - 1 could collide mid-update.
        conn.execute("UPDATE devices SET seq = -(seq - 1) WHERE batch_id = ? AND seq > ?", (source, seq))
        conn.execute("UPDATE devices SET seq = -seq WHERE batch_id = ? AND seq < 0", (source,))
        conn.execute("UPDATE batches SET last_seq = last_seq - 1 WHERE id = ?", (source,))
        batches.adjust_counts(conn, source, {STATES[state]: -1})
        (last,) = conn.execute("SELECT last_seq FROM batches WHERE id = ?", (target,)).fetchone()
        conn.execute(
            "INSERT INTO devices (batch_id, seq, device_id, state, added_ms) VALUES (?, ?, ?, ?, ?)",
            (target, last + 1, blob, state, added_ms),
        )
        conn.execute("UPDATE batches SET last_seq = last_seq + 1 WHERE id = ?", (target,))
        batches.adjust_counts(conn, target, {STATES[state]: 1})
        moved.append((blob, found[blob]))
    return moved


def find(conn: sqlite3.Connection, blob: bytes) -> Device | None:
    row = conn.execute(
        "SELECT d.device_id, d.state, d.added_ms, b.name, c.firmware FROM devices AS d "
        "JOIN batches AS b ON b.id = d.batch_id "
        "LEFT JOIN device_certificates AS c ON c.device_id = d.device_id WHERE d.device_id = ?",
        (blob,),
    ).fetchone()
    return None if row is None else _device(row[:3], row[3], row[4] or "")


def set_state(conn: sqlite3.Connection, blobs: list[bytes], state: DeviceState) -> int:
    """Move devices to `state`; all must exist (else nothing changes). Returns how many changed."""
    if not isinstance(state, DeviceState):
        raise ValidationError(f"device state must be one of {', '.join(s.value for s in STATES)}")
    unique = list(dict.fromkeys(blobs))
    found: dict[bytes, tuple[int, int]] = {}
    for chunk in in_chunks(unique):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT device_id, batch_id, state FROM devices WHERE device_id IN ({marks})",  # noqa: S608
            chunk,
        )
        found.update((row[0], (row[1], row[2])) for row in rows)
    missing = [blob for blob in unique if blob not in found]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise NotFoundError(
            f"device {missing[0].hex()}{more} is not in this instance; no device state was changed"
        )
    code = STATE_CODE[state]
    moves = Counter((batch_id, old) for batch_id, old in found.values() if old != code)
    to_change = [blob for blob, (_, old) in found.items() if old != code]
    for chunk in in_chunks(to_change):
        marks = ",".join("?" * len(chunk))
        conn.execute(f"UPDATE devices SET state = ? WHERE device_id IN ({marks})", [code, *chunk])  # noqa: S608
    per_batch: dict[int, Counter[DeviceState]] = {}
    for (batch_id, old), count in moves.items():
        changes = per_batch.setdefault(batch_id, Counter())
        changes[STATES[old]] -= count
        changes[state] += count
    for batch_id, changes in per_batch.items():
        batches.adjust_counts(conn, batch_id, changes)
    return len(to_change)


def _holders(conn: sqlite3.Connection, blobs: Sequence[bytes]) -> tuple[tuple[DeviceID, str], ...]:
    """Each ID with the name of the batch holding it (for the few samples shown to a person)."""
    holders = []
    for blob in blobs:
        row = conn.execute(
            "SELECT b.name FROM devices AS d JOIN batches AS b ON b.id = d.batch_id WHERE d.device_id = ?",
            (blob,),
        ).fetchone()
        holders.append((DeviceID(blob.hex()), str(row[0])))
    return tuple(holders)


def _unique(blobs: list[bytes]) -> list[bytes]:
    """The IDs in order without repeats, built a slice at a time (see `_GIL_SLICE`)."""
    seen: dict[bytes, None] = {}
    for start in range(0, len(blobs), _GIL_SLICE):
        seen.update(dict.fromkeys(blobs[start : start + _GIL_SLICE]))
    return list(seen)


def _repeated_samples(blobs: list[bytes]) -> tuple[DeviceID, ...]:
    seen: set[bytes] = set()
    repeats: list[DeviceID] = []
    for blob in blobs:
        if blob in seen:
            repeats.append(DeviceID(blob.hex()))
            if len(repeats) == 20:
                break
        seen.add(blob)
    return sample(repeats)


def _prefix_range(search: str) -> tuple[bytes, bytes]:
    prefix = search.strip()
    if not _HEX_PREFIX.fullmatch(prefix):
        raise ValidationError(
            f"device search {prefix!r} must be the first hexadecimal digits (0-9 a-f) of a DeviceID"
        )
    return bytes.fromhex(prefix.ljust(64, "0")), bytes.fromhex(prefix.ljust(64, "f"))


def in_chunks(values: list[bytes]) -> Iterator[list[bytes]]:
    """Slices small enough for one IN (...) list each (SQLite caps a statement's parameters)."""
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _device(row: Sequence[Any], batch_name: str, firmware: str = "") -> Device:
    return Device(
        device_id=DeviceID(row[0].hex()),
        batch=batch_name,
        state=STATES[row[1]],
        added_at=from_ms(row[2]),
        firmware=firmware,
    )
