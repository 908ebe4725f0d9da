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
from app.domain.records import DeviceCertificate
from app.instance.local import activity, batches, device_certificates, devices, firmware_catalog
from app.instance.local.database import Database, from_ms, to_ms
from app.instance.local.enrolment_policy import terms_of
from app.instance.local.firmware_catalog import OfferedFirmware
from app.instance.local.key_unlock import LazyProtector
from app.instance.local.pki import PkiMaterial, load_private_key
from app.instance.local.server_certificate import issuing_material

ACTOR = "enrolment-service"
LIVE_STATES = device_certificates.LIVE_STATES
_BACKDATE = timedelta(minutes=5)
SWEEP_CHUNK = 10_000  # devices expired per write transaction (about 0.15 s on the reference machine)


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
            return device_certificates.one(conn, blob)

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
        seen = self._clock()  # to the millisecond: a station waiting for a re-enrolment compares it
        now = seen.replace(microsecond=0)  # a certificate's validity is in whole seconds
        with self._db.write() as conn:
            standing = _standing(conn, blob)
            terms = terms_of(conn, standing.policy)
            current_ms = device_certificates.valid_until_ms(conn, blob)
            still_valid = standing.state in LIVE_STATES and current_ms > to_ms(now)
            renewal = still_valid and terms.auto_renew
            # Without auto-renew a device that enrols again (a new device key after an erase, say) gets a
            # certificate for its new key that ends when its current one would: only a person extends it.
            keep_until = from_ms(current_ms) if still_valid and not renewal else None
            not_after = keep_until or now + terms.certificate_lifetime
            cert = _device_certificate(issuer, blob.hex(), device_public_key, now, not_after)
            serial = device_certificates.serial_of(cert)
            first = device_certificates.store(conn, blob, cert, seen)
            state = standing.state if keep_until else DeviceState.RENEWED if renewal else DeviceState.ENROLLED
            devices.set_state(conn, [blob], state)
            how = "renewed" if renewal else "enrolled" if first else "enrolled again"
            if keep_until:
                how += f" (policy {standing.policy} does not auto-renew: validity kept)"
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

    def expire_due(self, chunk: int = SWEEP_CHUNK) -> int:
        """Make Expired every Enrolled or Renewed device whose certificate has run out; returns how many.

        The enrolment service calls it now and then, the dashboard before it counts (and a test with an
        injected clock, at will). The candidates are probed first, outside any write: a sweep that finds
        nothing (nearly always) never waits for a writer, and reads only the certificates that ran out
        since the last sweep (see `device_certificates`). Many at once (a batch enrolled on one day runs
        out on one day) are expired `chunk` to a transaction, so a push waits for one chunk at
        most, not for a million devices.
        """
        now_at = to_ms(self._clock())
        with self._db.read() as conn:
            if not device_certificates.any_ran_out(conn, now_at):
                return 0
        expired = 0
        written: int | None = None  # the mark this sweep last wrote
        after = (0, device_certificates.AFTER_EVERY_ID)
        while True:
            with self._db.write() as conn:
                mark = device_certificates.sweep_mark(conn)
                if mark != written:  # the first round, or a certificate made live again meanwhile
                    after = (mark, device_certificates.AFTER_EVERY_ID)
                rows = device_certificates.due(conn, after, now_at, chunk)
                # All of them, or all up to just before the last one's end (others may end then too).
                written = now_at if len(rows) < chunk else rows[-1][0] - 1
                device_certificates.swept_through(conn, written)
                if rows:
                    after = rows[-1]
                    blobs = [blob for _, blob in rows]
                    changed = devices.set_state(conn, blobs, DeviceState.EXPIRED)
                    target = blobs[0].hex() if len(blobs) == 1 else f"{len(blobs)} devices"
                    details = f"{changed} certificate(s) ran out"
                    activity.record(conn, ACTOR, "device.expire", target, details)
                    expired += changed
            if len(rows) < chunk:
                return expired

    def renew(self, device_id: str, actor: str) -> DeviceCertificate:
        """A new certificate for the device's current key under its batch's policy, made Renewed by a person.

        Refused for a revoked device (DeviceRevokedError, saying how to bring it back) and for one that
        never enrolled (it has no key on record to certify). Expired devices may be renewed.
        """
        blob = _blob(device_id)
        issuer = self._load_issuer()
        now = self._clock().replace(microsecond=0)
        with self._db.write() as conn:
            try:
                standing = _standing(conn, blob)
            except DeviceRevokedError:
                raise DeviceRevokedError(
                    f"device {blob.hex()} is revoked, so its certificate is not renewed; move it to a batch "
                    "again (re-enrol) if it should come back"
                ) from None
            current = device_certificates.one(conn, blob)
            if current is None:
                raise ConflictError(
                    f"device {blob.hex()} has never enrolled, so it has no certificate to renew; it gets one "
                    "when the board enrols"
                )
            key = x509.load_pem_x509_certificate(current.certificate_pem.encode("ascii")).public_key()
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise ConflictError(f"device {blob.hex()}'s certificate holds no EC key; it must enrol again")
            lifetime = terms_of(conn, standing.policy).certificate_lifetime
            cert = _device_certificate(issuer, blob.hex(), key, now, now + lifetime)
            serial = device_certificates.serial_of(cert)
            device_certificates.replace_for_renewal(conn, blob, cert)
            devices.set_state(conn, [blob], DeviceState.RENEWED)
            activity.record(
                conn,
                actor,
                "device.renew",
                blob.hex(),
                f"renewed by {actor} in batch {standing.batch!r}, certificate serial {serial}, "
                f"valid until {cert.not_valid_after_utc.date().isoformat()}",
            )
            renewed = device_certificates.one(conn, blob)
        assert renewed is not None
        return renewed

    def report_status(self, device_id: str, firmware: str) -> DeviceStanding:
        """Note the firmware an enrolled device says it runs; return its standing for the status answer."""
        blob = _blob(device_id)
        with self._db.write() as conn:
            device_certificates.note_firmware(conn, blob, firmware)
            return _standing(conn, blob)

    def check_in(self, device_id: str) -> DeviceCertificate:
        """A device that holds a valid certificate reconnects (after a restart or a firmware update)
        without a new certificate: its state stays as it is. NotEnrolledError when it has none that is
        valid now, so it enrols instead."""
        blob = _blob(device_id)
        now_ms = to_ms(self._clock())
        with self._db.write() as conn:
            standing = _standing(conn, blob)
            if standing.state not in LIVE_STATES or device_certificates.valid_until_ms(conn, blob) <= now_ms:
                raise NotEnrolledError(
                    f"device {blob.hex()} holds no valid certificate of this instance (it is "
                    f"{standing.state.value}); enrol instead of checking in"
                )
            device_certificates.note_seen(conn, blob, now_ms)
            certificate = device_certificates.one(conn, blob)
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


def _device_certificate(
    issuer: _Issuer,
    device_id: str,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime,
    not_after: datetime,
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
        .not_valid_after(min(not_after, issuer.certificate.not_valid_after_utc))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(issuer.key, hashes.SHA256())
    )
