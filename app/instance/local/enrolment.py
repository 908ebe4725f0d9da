"""The instance side of device enrolment: who a device is, its certificate, and its move to Enrolled.

The enrolment service (`app/enrolment/`) checks the protocol and the device's proofs; this module is
what the instance decides and stores: whether a DeviceID may enrol (in a batch, not revoked), the device
certificate the issuing CA signs for the device's own key under the batch's policy, and the state change
with its activity entry, committed together. The issuing CA's key is decrypted once, on the first
certificate, and kept in memory by this object only (the process that serves enrolments).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.domain.errors import ConflictError, NotFoundError, ValidationError
from app.domain.kinds import DeviceState
from app.instance.local import activity, batches, devices, firmware_catalog
from app.instance.local.database import Database, from_ms, to_ms
from app.instance.local.enrolment_policy import terms_of
from app.instance.local.firmware_catalog import OfferedFirmware
from app.instance.local.key_unlock import LazyProtector
from app.instance.local.pki import PkiMaterial, load_private_key
from app.instance.local.server_certificate import issuing_material

ACTOR = "enrolment-service"
LIVE_STATES = (DeviceState.ENROLLED, DeviceState.RENEWED)  # holding a certificate that may still be valid
_BACKDATE = timedelta(minutes=5)


class DeviceRevokedError(ConflictError):
    """The device is revoked: it gets no certificate until a person moves it back."""


class NotEnrolledError(ConflictError):
    """A device checked in without a valid certificate from this instance: it must enrol."""


@dataclass(frozen=True)
class DeviceStanding:
    """What the instance knows of a device when it asks to enrol."""

    device_id: str
    batch: str
    state: DeviceState
    policy: str
    batch_firmware: str | None
    offered: OfferedFirmware | None = (
        None  # the batch's firmware, when in the catalog and it passes the filters
    )


@dataclass(frozen=True)
class IssuedCertificate:
    certificate_der: bytes
    chain_der: tuple[bytes, ...]  # the issuing CA (the device already holds the root)
    serial_hex: str
    not_before: datetime
    not_after: datetime
    first: bool  # False when the device had enrolled before
    state: DeviceState  # ENROLLED, or RENEWED when the device's previous certificate was still valid


@dataclass(frozen=True)
class DeviceCertificate:
    """A device's current certificate as the instance keeps it (public parts only)."""

    device_id: str
    serial_hex: str
    not_before: datetime
    not_after: datetime
    certificate_pem: str
    first_enrolled_at: datetime
    enrolled_at: datetime
    enrolments: int
    firmware: str


@dataclass
class _Issuer:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    chain_der: tuple[bytes, ...]
    organisation: str


class DeviceEnrolment:
    """Open one per enrolment service with `LocalInstance.device_enrolment()`; safe to share by threads."""

    def __init__(
        self, db: Database, protector: LazyProtector, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._db = db
        self._protector = protector
        self._clock = clock or (lambda: datetime.now(UTC))
        self._issuer: _Issuer | None = None
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- reads
    def standing(self, device_id: str) -> DeviceStanding:
        """NotFoundError when the DeviceID is in no batch, DeviceRevokedError when it is revoked."""
        blob = _blob(device_id)
        with self._db.read() as conn:
            return _standing(conn, blob)

    def certificate_of(self, device_id: str) -> DeviceCertificate | None:
        blob = _blob(device_id)
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT serial_hex, not_before_ms, not_after_ms, certificate_pem, first_enrolled_ms, "
                "enrolled_ms, enrolments, firmware FROM device_certificates WHERE device_id = ?",
                (blob,),
            ).fetchone()
        if row is None:
            return None
        return DeviceCertificate(
            device_id=blob.hex(),
            serial_hex=row[0],
            not_before=from_ms(row[1]),
            not_after=from_ms(row[2]),
            certificate_pem=row[3],
            first_enrolled_at=from_ms(row[4]),
            enrolled_at=from_ms(row[5]),
            enrolments=row[6],
            firmware=row[7],
        )

    def issuing_ca_pem(self) -> str:
        with self._db.read() as conn:
            return issuing_material(conn).certificate_pem

    # ----------------------------------------------------------------- changes
    def enrol(self, device_id: str, device_public_key: ec.EllipticCurvePublicKey) -> IssuedCertificate:
        """Certify the device's key under its batch's policy and make it Enrolled, in one transaction.

        The caller has checked the device's proofs. The standing is read again inside the transaction,
        so a device revoked or moved while it was answering the challenge is judged as it is now; the
        certificate is signed there too (well under a millisecond), so it always follows that standing.
        """
        if not isinstance(device_public_key.curve, ec.SECP256R1):
            raise ValidationError("a device key must be EC P-256")
        blob = _blob(device_id)
        issuer = self._load_issuer()
        now = self._clock().replace(microsecond=0)
        with self._db.write() as conn:
            standing = _standing(conn, blob)
            renewal = standing.state in LIVE_STATES and _valid_until(conn, blob) > to_ms(now)
            lifetime = terms_of(standing.policy).certificate_lifetime
            cert = _device_certificate(issuer, blob.hex(), device_public_key, now, lifetime)
            pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
            serial = format(cert.serial_number, "x")
            first = _store(conn, blob, cert, pem, serial, now)
            state = DeviceState.RENEWED if renewal else DeviceState.ENROLLED
            devices.set_state(conn, [blob], state)
            how = "renewed" if renewal else "enrolled" if first else "enrolled again"
            activity.record(
                conn,
                ACTOR,
                "device.renew" if renewal else "device.enrol",
                blob.hex(),
                f"{how} in batch {standing.batch!r}, certificate serial {serial}, policy {standing.policy}, "
                f"valid until {cert.not_valid_after_utc.date().isoformat()}",
            )
        return IssuedCertificate(
            certificate_der=cert.public_bytes(serialization.Encoding.DER),
            chain_der=issuer.chain_der,
            serial_hex=serial,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            first=first,
            state=state,
        )

    def expire_due(self) -> int:
        """Make Expired every Enrolled or Renewed device whose certificate has run out; returns how many.

        The enrolment service calls it now and then (and a test with an injected clock, at will); an
        index on the certificates' end dates keeps it a range read however many devices there are.
        """
        now_at = to_ms(self._clock())
        codes = [devices.STATE_CODE[state] for state in LIVE_STATES]
        with self._db.write() as conn:
            rows = conn.execute(
                "SELECT c.device_id FROM device_certificates AS c "
                "JOIN devices AS d ON d.device_id = c.device_id "
                "WHERE c.not_after_ms <= ? AND d.state IN (?, ?)",
                (now_at, *codes),
            ).fetchall()
            blobs = [bytes(row[0]) for row in rows]
            if not blobs:
                return 0
            changed = devices.set_state(conn, blobs, DeviceState.EXPIRED)
            target = blobs[0].hex() if len(blobs) == 1 else f"{len(blobs)} devices"
            activity.record(conn, ACTOR, "device.expire", target, f"{changed} certificate(s) ran out")
            return changed

    def report_status(self, device_id: str, firmware: str) -> DeviceStanding:
        """Note the firmware an enrolled device says it runs; return its standing for the status answer."""
        blob = _blob(device_id)
        with self._db.write() as conn:
            conn.execute("UPDATE device_certificates SET firmware = ? WHERE device_id = ?", (firmware, blob))
            return _standing(conn, blob)

    def check_in(self, device_id: str) -> DeviceCertificate:
        """A device that holds a valid certificate reconnects (after a restart or a firmware update)
        without a new certificate: its state stays as it is. NotEnrolledError when it has none that is
        valid now, so it enrols instead."""
        blob = _blob(device_id)
        with self._db.read() as conn:
            standing = _standing(conn, blob)
            if standing.state not in LIVE_STATES or _valid_until(conn, blob) <= to_ms(self._clock()):
                raise NotEnrolledError(
                    f"device {blob.hex()} holds no valid certificate of this instance (it is "
                    f"{standing.state.value}); enrol instead of checking in"
                )
        certificate = self.certificate_of(device_id)
        assert certificate is not None  # a live state always has its certificate row
        return certificate

    def firmware_image(self, name: str, sha256: str) -> bytes:
        """The signed bytes of an offered firmware, for a device downloading it (NotFoundError when it
        was deleted or replaced since it was offered)."""
        with self._db.read() as conn:
            return firmware_catalog.signed_image(conn, name, sha256)

    def note_firmware_sent(self, device_id: str, firmware: str, version: str) -> None:
        """Log that a device downloaded the whole of a firmware (it reports running it after its reboot)."""
        blob = _blob(device_id)
        with self._db.write() as conn:
            activity.record(
                conn, ACTOR, "device.firmware-download", blob.hex(), f"{firmware} version {version}"
            )

    def _load_issuer(self) -> _Issuer:
        with self._lock:
            if self._issuer is None:
                with self._db.read() as conn:
                    material: PkiMaterial = issuing_material(conn)
                certificate = x509.load_pem_x509_certificate(material.certificate_pem.encode("ascii"))
                key = load_private_key(material, self._protector.get())
                organisation = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
                self._issuer = _Issuer(
                    certificate=certificate,
                    key=key,
                    chain_der=(certificate.public_bytes(serialization.Encoding.DER),),
                    organisation=str(organisation[0].value) if organisation else "QuarkLink",
                )
            return self._issuer


def _blob(device_id: str) -> bytes:
    (blob,) = devices.device_id_blobs([device_id])
    return blob


def _standing(conn: sqlite3.Connection, blob: bytes) -> DeviceStanding:
    device = devices.find(conn, blob)
    if device is None:
        raise NotFoundError(
            f"device {blob.hex()} is in no batch of this instance; add it to a batch (the station does "
            "this when it provisions the board), then let the board enrol again"
        )
    if device.state is DeviceState.REVOKED:
        raise DeviceRevokedError(
            f"device {blob.hex()} is revoked; move it to a batch again before it can enrol"
        )
    batch = batches.get(conn, device.batch)
    offered = firmware_catalog.offered(conn, batch)
    return DeviceStanding(blob.hex(), batch.name, device.state, batch.policy, batch.firmware, offered)


def _valid_until(conn: sqlite3.Connection, blob: bytes) -> int:
    row = conn.execute("SELECT not_after_ms FROM device_certificates WHERE device_id = ?", (blob,)).fetchone()
    return int(row[0]) if row is not None else 0


def _store(
    conn: sqlite3.Connection, blob: bytes, cert: x509.Certificate, pem: str, serial: str, now: datetime
) -> bool:
    """Insert or replace the device's certificate; True when it is the device's first."""
    at = to_ms(now)
    before = to_ms(cert.not_valid_before_utc)
    after = to_ms(cert.not_valid_after_utc)
    updated = conn.execute(
        "UPDATE device_certificates SET serial_hex = ?, not_before_ms = ?, not_after_ms = ?, "
        "certificate_pem = ?, enrolled_ms = ?, enrolments = enrolments + 1 WHERE device_id = ?",
        (serial, before, after, pem, at, blob),
    ).rowcount
    if updated:
        return False
    conn.execute(
        "INSERT INTO device_certificates (device_id, serial_hex, not_before_ms, not_after_ms, "
        "certificate_pem, first_enrolled_ms, enrolled_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (blob, serial, before, after, pem, at, at),
    )
    return True


def _device_certificate(
    issuer: _Issuer,
    device_id: str,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime,
    lifetime: timedelta,
) -> x509.Certificate:
    """A client-auth certificate, CN = DeviceID, never outliving the issuing CA."""
    issuer_ski = issuer.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, issuer.organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, device_id),
        ]
    )
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(min(now + lifetime, issuer.certificate.not_valid_after_utc))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(issuer.key, hashes.SHA256())
    )
