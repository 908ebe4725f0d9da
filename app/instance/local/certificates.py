"""The instance PKI as stored: certificate PEM in clear, private key only as the protector's ciphertext.

The dashboard counts certificates over the instance's own PKI and its device certificates together:
- expired: a PKI certificate whose validity period does not hold the current time; a device certificate
  that ran out (its device is Expired: the lifecycle sweeps expiry before the dashboard counts);
- not used: a PKI certificate valid in time that nothing relies on yet (the issuing CA until a device has
  enrolled; the TLS certificate while the endpoint boards are told to connect to is not one of its names,
  so no board can complete a TLS handshake with it; never the root, the CA boards receive); and one per
  device registered in a batch that has not enrolled yet, the certificate it is due but has not used;
- valid: every other PKI certificate, and the certificate of every Enrolled or Renewed device.
A revoked device's certificate is in none of the three: the dashboard's Revoked device count shows it.
Device certificates are counted from the per-batch state counters, so the counts stay O(batches).
"""

from __future__ import annotations

import ipaddress
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from cryptography import x509

from app.domain.errors import NotFoundError
from app.domain.records import CertificateCounts, CertificateInfo, DeviceCounts
from app.instance.local.database import now_ms
from app.instance.local.pki import ROLES, PkiMaterial, describe_certificate


def insert_all(conn: sqlite3.Connection, materials: Sequence[PkiMaterial]) -> None:
    created = now_ms()
    conn.executemany(
        "INSERT INTO certificates (role, certificate_pem, encrypted_private_key, created_ms) "
        "VALUES (?, ?, ?, ?)",
        [(m.role, m.certificate_pem, m.encrypted_private_key, created) for m in materials],
    )


def load_all(conn: sqlite3.Connection) -> tuple[CertificateInfo, ...]:
    """Root, issuing, TLS in that order."""
    rows = dict(conn.execute("SELECT role, certificate_pem FROM certificates").fetchall())
    return tuple(describe_certificate(role, rows[role]) for role in ROLES if role in rows)


def root_pem(certificates: Sequence[CertificateInfo]) -> str:
    for info in certificates:
        if info.role == "root":
            return info.pem
    raise NotFoundError("the instance has no root certificate; its database is incomplete")


def tls_names(pem: str) -> frozenset[str]:
    """The DNS names and IP addresses a TLS certificate is valid for (lower case, canonical IPs)."""
    cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return frozenset()
    names = {name.lower() for name in sans.get_values_for_type(x509.DNSName)}
    names |= {str(address) for address in sans.get_values_for_type(x509.IPAddress)}
    return frozenset(names)


def count(
    certificates: Sequence[CertificateInfo],
    devices: DeviceCounts,
    endpoint: str,
    tls_hostnames: frozenset[str],
    at: datetime,
) -> CertificateCounts:
    """Valid / expired / not used, as defined in the module docstring."""
    valid = devices.enrolled + devices.renewed
    expired = devices.expired
    not_used = devices.registered
    for info in certificates:
        if not info.not_before <= at <= info.not_after:
            expired += 1
        elif _unused(info.role, devices, _canonical(endpoint) in tls_hostnames):
            not_used += 1
        else:
            valid += 1
    return CertificateCounts(valid=valid, expired=expired, not_used=not_used)


def _unused(role: str, devices: DeviceCounts, endpoint_in_tls: bool) -> bool:
    if role == "issuing":
        return devices.total == devices.registered
    if role == "tls":
        return not endpoint_in_tls
    return False


def _canonical(endpoint: str) -> str:
    try:
        return str(ipaddress.ip_address(endpoint))
    except ValueError:
        return endpoint.lower().rstrip(".")
