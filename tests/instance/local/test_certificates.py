"""Certificate counting for the dashboard (valid / expired / not used), on hand-made validity windows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from app.domain.records import CertificateInfo, DeviceCounts
from app.instance.local.certificates import count

NOW = datetime(2030, 6, 1, tzinfo=UTC)


def _cert(role: str, start_days: int, end_days: int) -> CertificateInfo:
    return CertificateInfo(
        role=role,
        subject=f"CN={role}",
        issuer="CN=root",
        serial_hex="1",
        not_before=NOW + timedelta(days=start_days),
        not_after=NOW + timedelta(days=end_days),
        fingerprint_sha256="00",
        pem="",
    )


PKI = [_cert("root", -10, 100), _cert("issuing", -10, 100), _cert("tls", -10, 100)]
ENROLLED = DeviceCounts(registered=3, enrolled=1)
TLS_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def test_all_valid_when_used() -> None:
    counts = count(PKI, ENROLLED, "LOCALHOST.", TLS_NAMES, NOW)
    assert (counts.valid, counts.expired, counts.not_used) == (3 + 1, 0, 0 + 3)  # PKI + devices


def test_ip_endpoints_are_compared_canonically() -> None:
    assert count(PKI, ENROLLED, "0:0:0:0:0:0:0:1", TLS_NAMES, NOW).valid == 3 + 1


def test_issuing_unused_until_a_device_enrols() -> None:
    counts = count(PKI, DeviceCounts(registered=5), "localhost", TLS_NAMES, NOW)
    assert (counts.valid, counts.not_used) == (2, 1 + 5)
    assert count(PKI, DeviceCounts(revoked=1), "localhost", TLS_NAMES, NOW).not_used == 0


def test_tls_unused_when_the_endpoint_is_not_its_name() -> None:
    counts = count(PKI, ENROLLED, "iot.example.com", TLS_NAMES, NOW)
    assert (counts.valid, counts.not_used) == (2 + 1, 1 + 3)


def test_expired_and_not_yet_valid_count_as_expired() -> None:
    certs = [PKI[0], replace(PKI[1], not_after=NOW - timedelta(seconds=1)), _cert("tls", 1, 100)]
    counts = count(certs, DeviceCounts(), "nowhere", TLS_NAMES, NOW)
    assert (counts.valid, counts.expired, counts.not_used) == (1, 2, 0)


def test_device_certificates_are_counted_by_their_device_state() -> None:
    devices = DeviceCounts(registered=4, enrolled=10, renewed=3, expired=2, revoked=7)
    no_pki = count([], devices, "localhost", TLS_NAMES, NOW)
    assert (no_pki.valid, no_pki.expired, no_pki.not_used) == (13, 2, 4)  # revoked ones in none of them
