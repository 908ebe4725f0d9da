"""The device side of enrolment on a virtual board: what the IEF does after it joined WiFi.

Written from docs/enrolment-protocol.md, not from the service's code, so the board and the service are
two independent peers of the same document. The board resolves the endpoint through the simulated
network's table (`AccessPoint.routes`), opens TCP and then TLS to it, trusts only the root CA it received
as `ql_rootCA` (and checks the server's name), proves its enrolment key, sends a CSR for its device key
(made once and kept in flash like the enrolment key), stores the certificate it gets, and asks for its
status. Each step and each failure is one ESP-IDF style line under the tag `QL`.

Network waits are sliced (`_SLICE`) and the run context is checked between slices, so a reset or an
unplug ends an enrolment in progress as it ends everything else a board does.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import ipaddress
import json
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.sim.console import Console
from app.sim.images import SIM_APP_VERSION
from app.sim.nvs_store import NvsStore
from app.sim.ota import OtaFailure, apply_update, software_reset_text
from app.sim.run_context import BootMode, Restart, RunContext

TAG = "QL"
ENROL_KEY = "enrol_key"  # the IEF's enrolment key (ESK), DER PKCS#8 in hex
DEVICE_KEY = "device_key"  # the device key (DSK), made here once
DEVICE_CERT = "device_cert"  # the device certificate, DER in hex
FIRMWARE = SIM_APP_VERSION  # what the IEF reports running: its app description's version
_CONTEXT = b"QL-ENROL-1\x00"
_CHECK_IN = b"QL-CHECKIN-1\x00"
_MAX_LINE = 16384
_SLICE = 0.25


class EnrolFailure(Exception):
    """Enrolment did not complete; the message is the board's error line."""


@dataclass(frozen=True)
class DeviceKeys:
    enrolment: ec.EllipticCurvePrivateKey
    device: ec.EllipticCurvePrivateKey

    @property
    def epk_der(self) -> bytes:
        return self.enrolment.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def device_id(self) -> str:
        return hashlib.sha256(self.epk_der).hexdigest()


class Refused(EnrolFailure):
    """The service answered with an `error` message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"enrolment refused: {code}: {message}")
        self.code = code
        self.text = message


class DownloadFailure(EnrolFailure):
    """A firmware download did not complete or does not match what was offered. The enrolment before
    it did complete: `enrolled` is what the device got (its certificate), once known."""

    enrolled: Enrolled | None = None


@dataclass(frozen=True)
class Offer:
    """A firmware the status answer offered, and its bytes once downloaded (None until then)."""

    name: str
    version: str
    size: int
    sha256: str
    image: bytes | None = None


@dataclass(frozen=True)
class Enrolled:
    certificate_der: bytes
    serial: str
    not_after: str
    first: bool
    batch: str
    update: bool
    firmware: str | None
    offer: Offer | None = None
    checked_in: bool = False  # reconnected with the certificate it holds; none was issued


@dataclass(frozen=True)
class Download:
    """What the device needs to download an offered update: its chip, and a fault knob for tests."""

    chip: str
    drop_at: int | None = None  # the connection drops after this many firmware bytes
    chunk: int = 6144  # bytes asked per `firmware_get` (the protocol's limit)


def enrol_board(
    ctx: RunContext, con: Console, store: NvsStore, version: str, connect_timeout: float = 3.0
) -> bool:
    """One enrolment attempt with what the board holds; logs every step; True when enrolled.

    The board reports `version` (its running app's) in its status; when the service offers another
    version, it downloads it, and an update that passes its checks is written and the board restarts
    into it (this function then does not return). A refused update leaves the board enrolled on the
    version it runs, with the reason on its console."""
    endpoint = store.get("ql_endpoint") or ""
    port = int(store.get("ql_port") or "0")
    try:
        root_der = _root_der(store.get("ql_rootCA") or "")
        keys = _keys(con, store)
        address = resolve(endpoint, ctx.access_point.routes)
        con.info(TAG, f"connecting to {endpoint}:{port} ({address})")
        result = enrol(
            (address, port),
            endpoint,
            root_der,
            keys,
            log=lambda text: con.info(TAG, text),
            check=lambda: ctx.sleep(0),
            connect_timeout=connect_timeout,
            firmware=version,
            download=Download(ctx.chip.value, ctx.faults.ota_drop_at),
            certificate=_held_certificate(store),
        )
    except Refused as refusal:
        con.error(TAG, str(refusal))
        if refusal.code == "not_enrolled":
            store.delete(DEVICE_CERT)  # enrol afresh at the next attempt
        return False
    except DownloadFailure as failure:
        con.error("esp_https_ota", str(failure))
        if failure.enrolled is not None:  # the certificate came before the download
            store.set(DEVICE_CERT, failure.enrolled.certificate_der.hex())
        return True
    except EnrolFailure as failure:
        con.error(TAG, str(failure))
        return False
    store.set(DEVICE_CERT, result.certificate_der.hex())
    if result.offer is not None and result.offer.image is not None:
        _install(ctx, con, result.offer)
    return True


def _held_certificate(store: NvsStore) -> bytes | None:
    """The device certificate in flash while it is valid (the board then checks in), else None."""
    stored = store.get(DEVICE_CERT)
    if stored is None:
        return None
    try:
        der = bytes.fromhex(stored)
        valid_until = x509.load_der_x509_certificate(der).not_valid_after_utc
    except ValueError:
        return None
    return der if valid_until > datetime.now(UTC) else None


def _install(ctx: RunContext, con: Console, offer: Offer) -> None:
    assert offer.image is not None
    try:
        apply_update(ctx, con, offer.image, offer.version)
    except OtaFailure as failure:
        con.error(TAG, f"{failure}; staying on the running firmware")
        return
    con.info(TAG, f"firmware {offer.name} version {offer.version} installed; restarting")
    ctx.sleep(0.05)
    raise Restart(BootMode.FLASH, software_reset_text(ctx))


def resolve(name: str, routes: Mapping[str, str]) -> str:
    """The simulated network's DNS: an IP literal is itself; a name must be in the routing table."""
    try:
        return str(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        pass
    address = routes.get(name.lower().rstrip("."))
    if address is None:
        raise EnrolFailure(f"cannot resolve '{name}': host not found (DNS lookup failed)")
    return address


def enrol(
    address: tuple[str, int],
    server_name: str,
    root_der: bytes,
    keys: DeviceKeys,
    *,
    log: Callable[[str], None],
    check: Callable[[], None] = lambda: None,
    connect_timeout: float = 3.0,
    line_timeout: float = 10.0,
    firmware: str = FIRMWARE,
    download: Download | None = None,
    certificate: bytes | None = None,
) -> Enrolled:
    """The whole conversation of docs/enrolment-protocol.md; raises EnrolFailure with the reason."""
    context = ssl.create_default_context(cadata=root_der)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        raw = socket.create_connection(address, timeout=connect_timeout)
    except ConnectionRefusedError:
        raise EnrolFailure(f"connect to {address[0]}:{address[1]} failed: connection refused") from None
    except OSError as exc:
        raise EnrolFailure(f"connect to {address[0]}:{address[1]} failed: {exc.strerror or exc}") from None
    with raw:
        raw.settimeout(_SLICE)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = context.wrap_socket(raw, server_hostname=server_name, do_handshake_on_connect=False)
        except (ValueError, ssl.SSLError) as exc:
            raise EnrolFailure(f"TLS set-up failed: {exc}") from None
        with tls:
            _handshake(tls, check, line_timeout)
            log("TLS handshake ok, server verified against ql_rootCA")
            talk = _Conversation(tls, check, line_timeout)
            return talk.run(keys, log, firmware, download, certificate)


def _handshake(tls: ssl.SSLSocket, check: Callable[[], None], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        check()
        try:
            tls.do_handshake()
            return
        except (TimeoutError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            if time.monotonic() > deadline:
                raise EnrolFailure("TLS handshake failed: the server did not answer in time") from None
        except ssl.SSLCertVerificationError as exc:
            raise EnrolFailure(
                f"TLS handshake failed: server certificate not trusted by ql_rootCA ({exc.verify_message})"
            ) from None
        except (ssl.SSLError, OSError) as exc:
            raise EnrolFailure(f"TLS handshake failed: {exc}") from None


class _Conversation:
    def __init__(self, tls: ssl.SSLSocket, check: Callable[[], None], timeout: float) -> None:
        self.tls = tls
        self.check = check
        self.timeout = timeout
        self.buffer = b""

    def run(
        self,
        keys: DeviceKeys,
        log: Callable[[str], None],
        firmware: str,
        download: Download | None,
        certificate: bytes | None,
    ) -> Enrolled:
        device_id = keys.device_id
        self._send({"type": "hello", "version": 1, "device_id": device_id, "epk": _b64(keys.epk_der)})
        log(f"hello sent, DeviceID {device_id[:16]}...")
        nonce = _unb64(self._receive("challenge"), "nonce")
        if certificate is not None:
            signature = keys.enrolment.sign(
                _CHECK_IN + nonce + bytes.fromhex(device_id), ec.ECDSA(hashes.SHA256())
            )
            self._send({"type": "check_in", "signature": _b64(signature)})
            held = self._receive("checked_in")
            serial, not_after = str(held.get("serial", "?")), str(held.get("not_after", "?"))
            log(f"checked in with certificate serial {serial} valid until {not_after[:10]}")
            return self._status(certificate, serial, not_after, False, log, firmware, download, True)
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device_id)]))
            .sign(keys.device, hashes.SHA256())
            .public_bytes(serialization.Encoding.DER)
        )
        signed = _CONTEXT + nonce + bytes.fromhex(device_id) + hashlib.sha256(csr).digest()
        signature = keys.enrolment.sign(signed, ec.ECDSA(hashes.SHA256()))
        self._send({"type": "enrol", "csr": _b64(csr), "signature": _b64(signature)})
        log("challenge signed with the enrolment key, device key CSR sent")
        answer = self._receive("certificate")
        certificate = _unb64(answer, "certificate")
        serial = str(answer.get("serial", "?"))
        not_after = str(answer.get("not_after", "?"))
        again = "" if answer.get("first", True) is not False else " (enrolled before: certificate replaced)"
        log(f"enrolled: certificate serial {serial} valid until {not_after[:10]}{again}")
        first = bool(answer.get("first", True))
        return self._status(certificate, serial, not_after, first, log, firmware, download, False)

    def _status(
        self,
        certificate: bytes,
        serial: str,
        not_after: str,
        first: bool,
        log: Callable[[str], None],
        firmware: str,
        download: Download | None,
        checked_in: bool,
    ) -> Enrolled:
        self._send({"type": "status", "firmware": firmware})
        status = self._receive("status")
        update = bool(status.get("update"))
        offered = status.get("firmware") if isinstance(status.get("firmware"), str) else None
        batch = str(status.get("batch", "?"))
        offer = _offer(status) if update else None
        version = f" version {offer.version}" if offer else ""
        news = f"firmware update available: {offered}{version}" if update else "no firmware update"
        log(f"status: {status.get('state', '?')} in batch '{batch}', {news}")
        enrolled = Enrolled(certificate, serial, not_after, first, batch, update, offered, offer, checked_in)
        if offer is None or download is None:
            return enrolled
        try:
            return dataclasses.replace(enrolled, offer=self._download(offer, download, log))
        except DownloadFailure as failure:
            failure.enrolled = enrolled
            raise

    def _download(self, offer: Offer, download: Download, log: Callable[[str], None]) -> Offer:
        """Every piece of the offered image, in order; then its size and SHA-256 are checked."""
        log(f"downloading firmware {offer.name} version {offer.version} ({offer.size} bytes)")
        image = bytearray()
        while len(image) < offer.size:
            if download.drop_at is not None and len(image) >= download.drop_at:
                raise DownloadFailure(
                    f"image download incomplete: {len(image)} of {offer.size} bytes (connection lost)"
                )
            length = min(download.chunk, offer.size - len(image))
            request = {"firmware": offer.name, "sha256": offer.sha256, "chip": download.chip}
            try:
                self._send({"type": "firmware_get", **request, "offset": len(image), "length": length})
                chunk = self._receive("firmware_chunk")
            except Refused as refusal:
                raise DownloadFailure(f"firmware download refused: {refusal.code}: {refusal.text}") from None
            except EnrolFailure as exc:
                raise DownloadFailure(
                    f"image download incomplete: {len(image)} of {offer.size} bytes ({exc})"
                ) from None
            data = _unb64(chunk, "data")
            if chunk.get("offset") != len(image) or chunk.get("size") != offer.size or not data:
                raise DownloadFailure("the server sent a firmware piece that does not fit the offer")
            image += data
        digest = hashlib.sha256(image).hexdigest()
        if digest != offer.sha256:
            raise DownloadFailure(f"firmware SHA-256 mismatch: offered {offer.sha256}, got {digest}")
        log(f"firmware downloaded: {offer.size} bytes, SHA-256 verified")
        return Offer(offer.name, offer.version, offer.size, offer.sha256, bytes(image))

    def _send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        deadline = time.monotonic() + self.timeout
        while data:
            self.check()
            try:
                sent = self.tls.send(data)
            except (TimeoutError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                if time.monotonic() > deadline:
                    raise EnrolFailure("the server stopped reading") from None
                continue
            except (ssl.SSLError, OSError) as exc:
                raise EnrolFailure(f"connection lost: {exc}") from None
            data = data[sent:]

    def _receive(self, wanted: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self.buffer:
            self.check()
            if len(self.buffer) > _MAX_LINE:
                raise EnrolFailure("the server sent a line longer than the board reads")
            try:
                chunk = self.tls.recv(4096)
            except (TimeoutError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                if time.monotonic() > deadline:
                    raise EnrolFailure(f"no answer from the server in time (waiting for {wanted})") from None
                continue
            except (ssl.SSLError, OSError) as exc:
                raise EnrolFailure(f"connection lost: {exc}") from None
            if not chunk:
                raise EnrolFailure(f"the server closed the connection (waiting for {wanted})")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            message = json.loads(line)
        except ValueError:
            raise EnrolFailure("the server sent something that is not JSON") from None
        if not isinstance(message, dict):
            raise EnrolFailure("the server sent something that is not a message")
        if message.get("type") == "error":
            raise Refused(str(message.get("code")), str(message.get("message")))
        if message.get("type") != wanted:
            raise EnrolFailure(f"the server sent {str(message.get('type'))[:32]!r} instead of {wanted!r}")
        return message


def _offer(status: dict[str, Any]) -> Offer | None:
    name, version, size, sha256 = (status.get(k) for k in ("firmware", "version", "size", "sha256"))
    if not (isinstance(name, str) and isinstance(version, str) and isinstance(sha256, str)):
        return None
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        return None
    return Offer(name, version, size, sha256)


def _keys(con: Console, store: NvsStore) -> DeviceKeys:
    stored = store.get(ENROL_KEY)
    if stored is None:
        raise EnrolFailure("no enrolment key in flash")
    enrolment = _load_key(stored)
    device_hex = store.get(DEVICE_KEY)
    if device_hex is None:
        con.info(TAG, "generating device key pair (DSK/DPK, EC P-256)")
        device = ec.generate_private_key(ec.SECP256R1())
        der = device.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        store.set(DEVICE_KEY, der.hex())
    else:
        device = _load_key(device_hex)
    return DeviceKeys(enrolment, device)


def _load_key(hex_der: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_der_private_key(bytes.fromhex(hex_der), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise EnrolFailure("a key in flash is not an EC key")
    return key


def _root_der(received: str) -> bytes:
    """The root CA as the IEF received it (base64 of PEM or DER) in DER form."""
    try:
        raw = base64.b64decode(received, validate=True)
        if raw.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(raw).public_bytes(serialization.Encoding.DER)
        return x509.load_der_x509_certificate(raw).public_bytes(serialization.Encoding.DER)
    except (binascii.Error, ValueError):
        raise EnrolFailure("ql_rootCA in flash is not a certificate") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(message: dict[str, Any], name: str) -> bytes:
    value = message.get(name)
    try:
        if not isinstance(value, str):
            raise ValueError
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise EnrolFailure(f"the server's {name} is not base64") from None
