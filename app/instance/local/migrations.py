"""The local instance schema, as an ordered list of migrations keyed by `PRAGMA user_version`.

A database at version N gets migrations N+1.. applied, each in its own transaction with the version bump,
so an interrupted upgrade leaves the file at a version it really has. Migrations are only ever appended.

Storage choices that keep a million-device batch cheap:
- device IDs are 32-byte BLOBs, not 64-character text;
- `devices` is clustered on (batch_id, seq), so a page at any offset is a range read, and a separate
  unique index on device_id keeps an ID in one batch only;
- each batch row carries a counter per device state, updated in the same transaction as the devices,
  so listings and the dashboard never scan devices.
"""

from __future__ import annotations

import sqlite3

from app.instance.local.database import DatabaseError
from app.system import sqlite_file
from app.system.sqlite_file import user_version

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate", "user_version"]

_V1 = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role TEXT NOT NULL CHECK (role IN ('administrator', 'contributor')),
    password_hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);

CREATE TABLE batches (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    policy TEXT NOT NULL,
    firmware TEXT,
    attribute_filters TEXT NOT NULL DEFAULT '[]',
    created_ms INTEGER NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0,
    registered INTEGER NOT NULL DEFAULT 0,
    enrolled INTEGER NOT NULL DEFAULT 0,
    revoked INTEGER NOT NULL DEFAULT 0,
    expired INTEGER NOT NULL DEFAULT 0,
    renewed INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE devices (
    batch_id INTEGER NOT NULL REFERENCES batches (id),
    seq INTEGER NOT NULL,
    device_id BLOB NOT NULL,
    state INTEGER NOT NULL DEFAULT 0,
    added_ms INTEGER NOT NULL,
    PRIMARY KEY (batch_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX devices_by_id ON devices (device_id);

CREATE TABLE certificates (
    role TEXT PRIMARY KEY,
    certificate_pem TEXT NOT NULL,
    encrypted_private_key BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);

CREATE TABLE signing_keys (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    key_type TEXT NOT NULL,
    public_key_pem TEXT NOT NULL,
    key_digest_hex TEXT NOT NULL,
    encrypted_private_key BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);

CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    device_type TEXT NOT NULL,
    kind TEXT NOT NULL,
    variant TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    simulation INTEGER NOT NULL,
    data BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX images_by_type ON images (device_type, kind, variant, id);

CREATE TABLE tasks (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    device_type TEXT NOT NULL,
    bootloader TEXT NOT NULL,
    ief TEXT NOT NULL,
    signing_key_id INTEGER NOT NULL REFERENCES signing_keys (id),
    bootloader_image_id INTEGER NOT NULL REFERENCES images (id),
    partition_table_image_id INTEGER NOT NULL REFERENCES images (id),
    ief_image_id INTEGER NOT NULL REFERENCES images (id),
    created_ms INTEGER NOT NULL
);

CREATE TABLE activity (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT ''
);
"""

_V2 = """
CREATE TABLE idempotency (
    actor TEXT NOT NULL,
    method TEXT NOT NULL,
    key TEXT NOT NULL,
    request_sha256 BLOB NOT NULL,
    response TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (actor, method, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_by_age ON idempotency (created_ms);
"""
"""Version 2: answers of keyed pushes, kept in the transaction of the push (see `idempotency`)."""


_V3 = """
CREATE TABLE device_certificates (
    device_id BLOB PRIMARY KEY,
    serial_hex TEXT NOT NULL,
    not_before_ms INTEGER NOT NULL,
    not_after_ms INTEGER NOT NULL,
    certificate_pem TEXT NOT NULL,
    first_enrolled_ms INTEGER NOT NULL,
    enrolled_ms INTEGER NOT NULL,
    enrolments INTEGER NOT NULL DEFAULT 1,
    firmware TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX device_certificates_by_expiry ON device_certificates (not_after_ms);
"""
"""Version 3: each enrolled device's current certificate (public), written by the enrolment service
(`app/instance/local/enrolment.py`); the device key never reaches the instance."""

_POLICIES = """
CREATE TABLE policies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    connection TEXT NOT NULL DEFAULT 'none' CHECK (connection IN ('none', 'iot-hub', 'database-direct')),
    certificate_days INTEGER NOT NULL DEFAULT 365 CHECK (certificate_days > 0),
    auto_renew INTEGER NOT NULL DEFAULT 1 CHECK (auto_renew IN (0, 1)),
    jwt_minutes INTEGER NOT NULL DEFAULT 60 CHECK (jwt_minutes > 0),
    created_ms INTEGER NOT NULL
);
INSERT INTO policies (name, created_ms)
    SELECT 'default', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER);
INSERT OR IGNORE INTO policies (name, created_ms)
    SELECT DISTINCT policy, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM batches;
CREATE INDEX batches_by_policy ON batches (policy);
"""
"""Policies get a table (`app/instance/local/policies.py`): the built-in `default` (365-day device
certificates, auto-renew, 60-minute JWTs), and every policy name batches already carried, with the
default's terms, which is what those names meant before. Batches keep naming their policy."""

_TASK_RUN_OPTIONS = """
ALTER TABLE tasks ADD COLUMN enrol_wait_ms INTEGER NOT NULL DEFAULT 60000;
ALTER TABLE tasks ADD COLUMN flash_baud INTEGER;
"""
"""A task's run options (app/domain/run_options.py): the wait for enrolment (existing tasks wait, as new ones
do) and a fixed flashing rate (NULL: by each board's USB bridge)."""

_FIRMWARES = """
CREATE TABLE firmwares (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    version TEXT NOT NULL,
    device_type TEXT NOT NULL,
    attributes TEXT NOT NULL DEFAULT '[]',
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    signing_key TEXT NOT NULL,
    key_digest TEXT NOT NULL,
    image BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX device_certificates_by_firmware ON device_certificates (firmware);
CREATE INDEX batches_by_firmware ON batches (firmware);
"""
"""The firmware catalog: app images signed at upload by an instance key (`firmware_catalog`); devices
download the signed bytes over the enrolment connection. Indexes count who runs and who uses each."""


_FIRMWARE_IDENTITY = """
ALTER TABLE device_certificates ADD COLUMN firmware_id INTEGER REFERENCES firmwares (id) ON DELETE SET NULL;
UPDATE device_certificates SET firmware_id = coalesce(
    (SELECT f.id FROM devices AS d JOIN batches AS b ON b.id = d.batch_id
        JOIN firmwares AS f ON f.name = b.firmware
        WHERE d.device_id = device_certificates.device_id AND f.version = device_certificates.firmware),
    (SELECT min(f.id) FROM firmwares AS f WHERE f.version = device_certificates.firmware HAVING count(*) = 1)
) WHERE firmware != '';
CREATE INDEX device_certificates_by_firmware_id ON device_certificates (firmware_id);
"""
"""Which catalog firmware a device runs, not only the version it reports: two firmwares may share a version
(builds for two chips), and the Firmwares page counted both for every device reporting it. Set when the
device reports its status (`device_certificates.note_firmware`); devices known before are matched to their
batch's firmware, else to the one firmware with their version (none when several share it)."""


MIGRATIONS: tuple[str, ...] = (
    _V1,
    _V2,
    _V3,
    _POLICIES,
    _TASK_RUN_OPTIONS,
    _FIRMWARES,
    _FIRMWARE_IDENTITY,
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, migrations: tuple[str, ...] = MIGRATIONS) -> int:
    """Bring the schema to the newest version; return the version it was at before."""
    return sqlite_file.migrate(
        conn,
        migrations,
        what="instance database",
        error=DatabaseError,
        advice="update the station or open another data folder",
    )
