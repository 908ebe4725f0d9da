"""Schema versions: applied in order, each with its version bump, never downgraded."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.instance.local import migrations
from app.instance.local.database import DatabaseError
from app.instance.local.instance import LocalInstance
from app.instance.local.migrations import MIGRATIONS, SCHEMA_VERSION, migrate, user_version


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(tmp_path / "m.sqlite3", isolation_level=None)
    yield connection
    connection.close()


def test_a_new_instance_is_at_the_newest_version(tmp_path: Path) -> None:
    path = tmp_path / "i.sqlite3"
    LocalInstance.open(path).close()
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {
            "meta",
            "users",
            "batches",
            "devices",
            "certificates",
            "signing_keys",
            "images",
            "tasks",
        } <= tables
    finally:
        raw.close()


def test_migrate_applies_each_step_once(conn: sqlite3.Connection) -> None:
    steps = ("CREATE TABLE a (x);", "CREATE TABLE b (y); INSERT INTO a VALUES (1);")
    assert migrate(conn, steps) == 0
    assert user_version(conn) == 2
    assert migrate(conn, steps) == 2
    assert conn.execute("SELECT count(*) FROM a").fetchone()[0] == 1
    grown = (*steps, "ALTER TABLE b ADD COLUMN z;")
    assert migrate(conn, grown) == 2
    assert user_version(conn) == 3


def test_a_failing_step_keeps_the_version_it_really_has(conn: sqlite3.Connection) -> None:
    steps = ("CREATE TABLE a (x);", "CREATE TABLE c (y); CREATE TABLE a (again);")
    with pytest.raises(sqlite3.OperationalError, match="table a already exists"):
        migrate(conn, steps)
    assert user_version(conn) == 1
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "c" not in tables


def test_a_newer_database_is_refused(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(DatabaseError, match=f"schema version {SCHEMA_VERSION + 1}, newer than this station"):
        migrate(conn)


def test_opening_a_newer_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(DatabaseError, match="update the station or open another data folder"):
        LocalInstance.open(path)


def test_policies_come_to_an_existing_database_with_the_names_its_batches_use(
    conn: sqlite3.Connection,
) -> None:
    before = MIGRATIONS[: MIGRATIONS.index(migrations._POLICIES)]
    migrate(conn, before)
    for name, policy in (("line-1", "factory"), ("line-2", "factory"), ("lab", "default")):
        conn.execute("INSERT INTO batches (name, policy, created_ms) VALUES (?, ?, 0)", (name, policy))
    migrate(conn)
    rows = conn.execute(
        "SELECT name, connection, certificate_days, auto_renew, jwt_minutes, created_ms > 0 "
        "FROM policies ORDER BY name"
    ).fetchall()
    assert rows == [("default", "none", 365, 1, 60, 1), ("factory", "none", 365, 1, 60, 1)]


def test_a_new_database_has_the_default_policy_only(conn: sqlite3.Connection) -> None:
    migrate(conn)
    assert conn.execute("SELECT name FROM policies").fetchall() == [("default",)]


def test_devices_known_before_firmware_identity_are_matched_to_their_firmware(
    conn: sqlite3.Connection,
) -> None:
    """Devices that reported a version before the instance kept which firmware it is: their batch's
    firmware when it has that version, else the one firmware with it; none when several share it."""
    migrate(conn, MIGRATIONS[: MIGRATIONS.index(migrations._FIRMWARE_IDENTITY)])
    for fid, name, version, chip in ((1, "app-c3", "2.1", "esp32c3"), (2, "app-s3", "2.1", "esp32s3"),
                                     (3, "tool", "9.0", "esp32c3")):  # fmt: skip
        conn.execute(
            "INSERT INTO firmwares (id, name, version, device_type, size, sha256, signing_key, key_digest, "
            "image, created_ms) VALUES (?, ?, ?, ?, 1, '', 'k', '', x'00', 0)",
            (fid, name, version, chip),
        )
    for bid, name, firmware in ((1, "line-s3", "app-s3"), (2, "lab", None)):
        conn.execute(
            "INSERT INTO batches (id, name, policy, firmware, created_ms) VALUES (?, ?, 'default', ?, 0)",
            (bid, name, firmware),
        )
    devices = {
        b"\x01" * 32: (1, "2.1"),  # in line-s3, whose firmware has that version
        b"\x02" * 32: (2, "2.1"),  # in lab: two firmwares have 2.1, which one is not known
        b"\x03" * 32: (2, "9.0"),  # the one firmware with 9.0
        b"\x04" * 32: (2, ""),  # it never reported one
    }
    for seq, (blob, (batch, version)) in enumerate(devices.items(), 1):
        conn.execute(
            "INSERT INTO devices (batch_id, seq, device_id, state, added_ms) VALUES (?, ?, ?, 1, 0)",
            (batch, seq, blob),
        )
        conn.execute(
            "INSERT INTO device_certificates (device_id, serial_hex, not_before_ms, not_after_ms, "
            "certificate_pem, first_enrolled_ms, enrolled_ms, firmware) VALUES (?, '1', 0, 1, '', 0, 0, ?)",
            (blob, version),
        )
    migrate(conn)
    found = dict(conn.execute("SELECT device_id, firmware_id FROM device_certificates").fetchall())
    assert found == {b"\x01" * 32: 2, b"\x02" * 32: None, b"\x03" * 32: 3, b"\x04" * 32: None}
