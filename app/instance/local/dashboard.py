"""The dashboard summary: health panels, device and certificate counts, the latest activity.

Everything here is O(batches): device counts are sums of the per-batch counters, the database size comes
from the file system, and no integrity scan is run (that would read every page of a large database).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from app.domain.kinds import HealthLevel
from app.domain.records import CertificateInfo, ComponentHealth, DashboardSummary
from app.instance.local import activity, batches, certificates, meta, signing_keys
from app.instance.local.database import now
from app.instance.local.key_protection import ProtectionMode
from app.instance.local.migrations import SCHEMA_VERSION

LAST_ACTIVITY_COUNT = 10


def summary(
    conn: sqlite3.Connection,
    *,
    certs: Sequence[CertificateInfo],
    tls_hostnames: frozenset[str],
    protection_mode: ProtectionMode,
    unlocked: bool,
    database_bytes: int,
) -> DashboardSummary:
    devices = batches.total_counts(conn)
    endpoint = meta.require(conn, meta.ENDPOINT)
    private_keys = len(certs) + signing_keys.count(conn)
    health = (
        _hsm(private_keys, protection_mode, unlocked),
        ComponentHealth("Backend", HealthLevel.OK, 1, 1, "built-in local instance on this computer (SQLite)"),
        ComponentHealth(
            "Database",
            HealthLevel.OK,
            1,
            1,
            f"{database_bytes / 1_000_000:.1f} MB on disk, schema version {SCHEMA_VERSION}, "
            "write-ahead log on",
        ),
        ComponentHealth("IoT Hubs", HealthLevel.OK, 0, 0, "no IoT hubs configured"),
    )
    return DashboardSummary(
        health=health,
        devices=devices,
        certificates=certificates.count(certs, devices, endpoint, tls_hostnames, now()),
        last_activity=activity.latest(conn, LAST_ACTIVITY_COUNT),
    )


def _hsm(private_keys: int, mode: ProtectionMode, unlocked: bool) -> ComponentHealth:
    if mode == "keyring":
        where = "the key-encryption key is kept in the OS keyring"
    else:
        state = "unlocked" if unlocked else "locked until a key is needed"
        where = f"the key-encryption key comes from a passphrase ({state})"
    detail = f"{private_keys} private keys encrypted at rest (AES-256-GCM); {where}"
    return ComponentHealth("HSM", HealthLevel.OK, private_keys, private_keys, detail)
