"""Batches: named groups of devices with a policy, and a device counter per state.

The counters live on the batch row and are changed in the same transaction as the devices they count,
so a batch listing or the dashboard is O(batches) even with millions of devices.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from app.domain.errors import ConflictError, NotFoundError
from app.domain.firmware_attributes import validate_attributes
from app.domain.kinds import DeviceState
from app.domain.names import validate_name
from app.domain.records import Batch, DeviceCounts, Page, PageRequest
from app.instance.local import policies
from app.instance.local.database import from_ms, now_ms
from app.system.sqlite_paging import fetch_page, search_clause

STATE_COLUMNS = tuple(state.value for state in DeviceState)
_COLUMNS = "name, policy, firmware, attribute_filters, created_ms, " + ", ".join(STATE_COLUMNS)


def create(
    conn: sqlite3.Connection,
    name: str,
    policy: str,
    firmware: str | None,
    attribute_filters: Sequence[tuple[str, str]],
) -> Batch:
    batch_name = validate_name(name, "batch")
    policy_name = policies.require(conn, policy)
    firmware_name = None if firmware is None or not firmware.strip() else validate_name(firmware, "firmware")
    filters = validate_attributes(attribute_filters, "attribute filter")
    if conn.execute("SELECT 1 FROM batches WHERE name = ?", (batch_name,)).fetchone() is not None:
        raise ConflictError(f"a batch named {batch_name!r} already exists")
    created = now_ms()
    conn.execute(
        "INSERT INTO batches (name, policy, firmware, attribute_filters, created_ms) VALUES (?, ?, ?, ?, ?)",
        (batch_name, policy_name, firmware_name, json.dumps(filters), created),
    )
    return Batch(
        name=batch_name,
        policy=policy_name,
        created_at=from_ms(created),
        counts=DeviceCounts(),
        firmware=firmware_name,
        attribute_filters=filters,
    )


def get(conn: sqlite3.Connection, name: str) -> Batch:
    row = conn.execute(f"SELECT {_COLUMNS} FROM batches WHERE name = ?", (name.strip(),)).fetchone()  # noqa: S608
    if row is None:
        raise NotFoundError(f"there is no batch named {name.strip()!r}")
    return _batch(row)


def set_policy(conn: sqlite3.Connection, name: str, policy: str) -> tuple[str, Batch]:
    """Give a batch another (existing) policy; returns the policy it had, and the batch now.

    Its devices enrolled already keep their certificates; the policy applies from their next enrolment.
    """
    before = get(conn, name)
    policy_name = policies.require(conn, policy)
    conn.execute("UPDATE batches SET policy = ? WHERE name = ?", (policy_name, before.name))
    return before.policy, get(conn, before.name)


def id_of(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute("SELECT id FROM batches WHERE name = ?", (name.strip(),)).fetchone()
    if row is None:
        raise NotFoundError(f"there is no batch named {name.strip()!r}")
    return int(row[0])


def delete(conn: sqlite3.Connection, name: str) -> Batch:
    """Delete a batch and its devices; refused while any of them is enrolled (or renewed).

    An enrolled device is in use in the field: deleting its batch would leave it with a certificate the
    instance no longer knows. Devices only registered (never enrolled), revoked or expired go with the
    batch. Returns the batch as it was, so the caller can say what went.
    """
    batch = get(conn, name)
    live = batch.counts.enrolled + batch.counts.renewed
    if live:
        raise ConflictError(
            f"batch {batch.name!r} cannot be deleted: {live} of its devices {'are' if live != 1 else 'is'} "
            "enrolled and in use in the field. Move them to another batch (re-enrol) or revoke them first"
        )
    batch_id = id_of(conn, batch.name)
    conn.execute("DELETE FROM devices WHERE batch_id = ?", (batch_id,))
    conn.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
    return batch


def list_batches(conn: sqlite3.Connection, page: PageRequest) -> Page[Batch]:
    where, params = search_clause(("name",), page.search)
    return fetch_page(
        conn,
        select=_COLUMNS,
        table="batches",
        where=where,
        params=params,
        order_by="name",
        page=page,
        row_to_item=_batch,
    )


def total_counts(conn: sqlite3.Connection) -> DeviceCounts:
    """Device counts over the whole instance: a sum over batch rows, never a scan of devices."""
    sums = ", ".join(f"coalesce(sum({column}), 0)" for column in STATE_COLUMNS)
    row = conn.execute(f"SELECT {sums} FROM batches").fetchone()  # noqa: S608
    return DeviceCounts(**dict(zip(STATE_COLUMNS, row, strict=True)))


def adjust_counts(conn: sqlite3.Connection, batch_id: int, changes: Mapping[DeviceState, int]) -> None:
    """Add (or with negative numbers, remove) devices to a batch's per-state counters."""
    assignments = [(f"{state.value} = {state.value} + ?", delta) for state, delta in changes.items() if delta]
    if not assignments:
        return
    sql = ", ".join(a for a, _ in assignments)
    conn.execute(f"UPDATE batches SET {sql} WHERE id = ?", [d for _, d in assignments] + [batch_id])  # noqa: S608


def _batch(row: tuple[Any, ...]) -> Batch:
    counts = DeviceCounts(**dict(zip(STATE_COLUMNS, row[5:], strict=True)))
    return Batch(
        name=row[0],
        policy=row[1],
        created_at=from_ms(row[4]),
        counts=counts,
        firmware=row[2],
        attribute_filters=tuple((str(k), str(v)) for k, v in json.loads(row[3])),
    )
