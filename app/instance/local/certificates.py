"""The instance PKI as stored: certificate PEM in clear, private key only as the protector's ciphertext.

The dashboard counts certificates as follows (the local instance issues no device certificates yet, so
the counts are over its own PKI):
- expired: the current time is outside the certificate's validity period;
- not used: valid in time but nothing relies on it yet. The issuing CA is unused until a device has been
  enrolled (a device in any state other than registered got a certificate under it); the TLS certificate
  is unused while the endpoint boards are told to connect to is not one of its names, because then no
  board can complete a TLS handshake with it; the root is always in use (it is the CA boards receive);
- valid: every other certificate.
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
    valid = expired = not_used = 0
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
