"""Device certificates as stored: one row per device that ever enrolled, keyed like `devices`.

The row shares the 32-byte DeviceID key with `devices`, so the certificates of a page of devices are one
IN query over two primary keys, never a scan; the index on `not_after_ms` makes "which certificates ran
out since the last sweep" a range read however many devices a batch holds.

Expiry sweeps remember how far they have looked (`EXPIRED_THROUGH` in `meta`): certificates that ran out
before it were already dealt with, so a sweep reads only those that ran out since, not every expired
device of the instance's history. Whatever makes a certificate live again at or before that mark (a
certificate issued under a clock set back, a person making a device Enrolled again by hand) moves the
mark back to just before it (`reopen_sweep`), so the next sweep still finds it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from app.domain.device_id import DeviceID
from app.domain.kinds import DeviceState
from app.domain.records import DeviceCertificate
from app.instance.local import devices, meta
from app.instance.local.database import from_ms, to_ms

LIVE_STATES = (DeviceState.ENROLLED, DeviceState.RENEWED)  # holding a certificate that may still be valid
EXPIRED_THROUGH = "device_certificates_expired_through_ms"
_SELECT = (
    "SELECT c.device_id, d.state, c.serial_hex, c.not_before_ms, c.not_after_ms, c.first_enrolled_ms, "
    "c.enrolled_ms, c.enrolments, c.firmware, c.certificate_pem FROM device_certificates AS c "
    "JOIN devices AS d ON d.device_id = c.device_id "
)


def one(conn: sqlite3.Connection, blob: bytes) -> DeviceCertificate | None:
    row = conn.execute(_SELECT + "WHERE c.device_id = ?", (blob,)).fetchone()
    return None if row is None else _record(row)


def of(conn: sqlite3.Connection, blobs: Sequence[bytes]) -> tuple[DeviceCertificate, ...]:
    """The certificates of those devices that have one, in the order asked."""
    found: dict[bytes, DeviceCertificate] = {}
    for chunk in devices.in_chunks(list(dict.fromkeys(blobs))):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(_SELECT + f"WHERE c.device_id IN ({marks})", chunk)
        found.update((bytes(row[0]), _record(row)) for row in rows)
    return tuple(found[blob] for blob in dict.fromkeys(blobs) if blob in found)


def valid_until_ms(conn: sqlite3.Connection, blob: bytes) -> int:
    """When the device's current certificate runs out (ms), 0 when it has none."""
    row = conn.execute("SELECT not_after_ms FROM device_certificates WHERE device_id = ?", (blob,)).fetchone()
    return int(row[0]) if row is not None else 0


def serial_of(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def store(conn: sqlite3.Connection, blob: bytes, cert: x509.Certificate, now: datetime) -> bool:
    """Insert or replace the certificate a device enrolled for; True when it is the device's first."""
    pem, serial = _pem(cert), serial_of(cert)
    at = to_ms(now)
    before = to_ms(cert.not_valid_before_utc)
    after = to_ms(cert.not_valid_after_utc)
    updated = conn.execute(
        "UPDATE device_certificates SET serial_hex = ?, not_before_ms = ?, not_after_ms = ?, "
        "certificate_pem = ?, enrolled_ms = ?, enrolments = enrolments + 1 WHERE device_id = ?",
        (serial, before, after, pem, at, blob),
    ).rowcount
    reopen_sweep(conn, after)
    if updated:
        return False
    conn.execute(
        "INSERT INTO device_certificates (device_id, serial_hex, not_before_ms, not_after_ms, "
        "certificate_pem, first_enrolled_ms, enrolled_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (blob, serial, before, after, pem, at, at),
    )
    return True


def replace_for_renewal(conn: sqlite3.Connection, blob: bytes, cert: x509.Certificate) -> None:
    """A renewal a person made: a new certificate, but the device was not seen and did not enrol."""
    reopen_sweep(conn, to_ms(cert.not_valid_after_utc))
    conn.execute(
        "UPDATE device_certificates SET serial_hex = ?, not_before_ms = ?, not_after_ms = ?, "
        "certificate_pem = ? WHERE device_id = ?",
        (
            serial_of(cert),
            to_ms(cert.not_valid_before_utc),
            to_ms(cert.not_valid_after_utc),
            _pem(cert),
            blob,
        ),
    )


def note_firmware(conn: sqlite3.Connection, blob: bytes, firmware: str) -> None:
    """The version the device says it runs, and which catalog firmware that is (`firmware_id`, what the
    Firmwares page counts): its batch's firmware when that has the version (the update it was offered),
    else the firmware it was known to run while the version is still that one's; else none (the IEF, a
    build from elsewhere). A version alone does not say: builds for two chips may share it."""
    conn.execute(
        "UPDATE device_certificates SET firmware = :version, firmware_id = coalesce("
        " (SELECT f.id FROM devices AS d JOIN batches AS b ON b.id = d.batch_id"
        "  JOIN firmwares AS f ON f.name = b.firmware WHERE d.device_id = :device AND f.version = :version),"
        " (SELECT f.id FROM firmwares AS f WHERE f.id = device_certificates.firmware_id"
        "  AND f.version = :version)"
        ") WHERE device_id = :device",
        {"version": firmware, "device": blob},
    )


def note_seen(conn: sqlite3.Connection, blob: bytes, at_ms: int) -> None:
    """A check-in proved the device's key: it counts as seen (`enrolled_at`), with no new certificate."""
    conn.execute("UPDATE device_certificates SET enrolled_ms = ? WHERE device_id = ?", (at_ms, blob))


def any_ran_out(conn: sqlite3.Connection, at_ms: int) -> bool:
    """Whether any certificate ran out after the last sweep and by `at_ms`: one probe of the index, the
    devices table untouched (what the dashboard pays each time it counts)."""
    since = sweep_mark(conn)
    row = conn.execute(
        "SELECT 1 FROM device_certificates WHERE not_after_ms > ? AND not_after_ms <= ? LIMIT 1",
        (since, at_ms),
    ).fetchone()
    return row is not None


AFTER_EVERY_ID = b"\xff" * 33  # sorts after every 32-byte DeviceID: "past this end date"


def sweep_mark(conn: sqlite3.Connection) -> int:
    """How far sweeps have looked: every live certificate ending at or before it has been expired."""
    return int(meta.get(conn, EXPIRED_THROUGH) or 0)


def due(
    conn: sqlite3.Connection, after: tuple[int, bytes], at_ms: int, limit: int
) -> list[tuple[int, bytes]]:
    """Up to `limit` Enrolled or Renewed devices whose certificate ends after `after` (end date, then
    DeviceID: the order of the end-date index, whose entries carry the key) and by `at_ms`, as
    (end, DeviceID) in that order. A sweep walks them a chunk at a time without reading one twice,
    however many end at the same moment."""
    codes = [devices.STATE_CODE[state] for state in LIVE_STATES]
    rows = conn.execute(
        "SELECT c.not_after_ms, c.device_id FROM device_certificates AS c "
        "JOIN devices AS d ON d.device_id = c.device_id "
        "WHERE (c.not_after_ms, c.device_id) > (?, ?) AND c.not_after_ms <= ? AND d.state IN (?, ?) "
        "ORDER BY c.not_after_ms, c.device_id LIMIT ?",
        (*after, at_ms, *codes, limit),
    ).fetchall()
    return [(int(row[0]), bytes(row[1])) for row in rows]


def reopen_sweep(conn: sqlite3.Connection, not_after_ms: int) -> None:
    """Make sure the next sweep looks at a live certificate that ends at `not_after_ms`."""
    since = sweep_mark(conn)
    if not_after_ms <= since:
        meta.put(conn, EXPIRED_THROUGH, str(not_after_ms - 1))


def reopen_sweep_for(conn: sqlite3.Connection, blobs: Sequence[bytes]) -> None:
    """`reopen_sweep` for the certificates of devices a person is making Enrolled or Renewed."""
    for chunk in devices.in_chunks(list(dict.fromkeys(blobs))):
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT min(not_after_ms) FROM device_certificates WHERE device_id IN ({marks})"  # noqa: S608
        (earliest,) = conn.execute(sql, chunk).fetchone()
        if earliest is not None:
            reopen_sweep(conn, int(earliest))


def swept_through(conn: sqlite3.Connection, at_ms: int) -> None:
    meta.put(conn, EXPIRED_THROUGH, str(at_ms))


def _record(row: Any) -> DeviceCertificate:
    return DeviceCertificate(
        device_id=DeviceID(bytes(row[0]).hex()),
        state=devices.STATES[row[1]],
        serial_hex=row[2],
        not_before=from_ms(row[3]),
        not_after=from_ms(row[4]),
        first_enrolled_at=from_ms(row[5]),
        enrolled_at=from_ms(row[6]),
        enrolments=row[7],
        firmware=row[8],
        certificate_pem=row[9],
    )
