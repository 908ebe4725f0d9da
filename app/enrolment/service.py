"""The enrolment service: a threaded TLS server on a bound socket, one handler thread per connection.

The accept loop only accepts; the TLS handshake and the whole conversation run on the connection's own
thread, so a slow or silent device holds up nobody else. Connections over `max_connections` are closed
at once (the device tries again later) rather than queued behind a stuck one. Every wait has a limit:
`line_timeout` per line and `connection_timeout` for the whole conversation.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.domain.errors import NotFoundError, StationError
from app.enrolment import protocol
from app.enrolment.protocol import ErrorCode, ProtocolError
from app.instance.local.enrolment import DeviceEnrolment, DeviceRevokedError, NotEnrolledError
from app.instance.local.firmware_catalog import OfferedFirmware

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass
class ServiceCounters:
    """What the service did since it started (for the serve console, tests and the benchmark)."""

    connections: int = 0
    enrolled: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    handshake_failures: int = 0
    turned_away: int = 0
    firmware_downloads: int = 0  # whole firmwares sent
    checked_in: int = 0  # devices that reconnected with a valid certificate (no new one issued)


class EnrolmentService:
    """Serve enrolments on `sock` (bound and listening) until `stop()`."""

    def __init__(
        self,
        sock: socket.socket,
        context: ssl.SSLContext,
        desk: DeviceEnrolment,
        *,
        max_connections: int = 256,
        line_timeout: float = 10.0,
        connection_timeout: float = 30.0,
        expiry_sweep_s: float = 60.0,
    ) -> None:
        self._sock = sock
        self.expiry_sweep_s = expiry_sweep_s
        self._context = context
        self._desk = desk
        self._slots = threading.BoundedSemaphore(max_connections)
        self.line_timeout = line_timeout
        self.connection_timeout = connection_timeout
        self.counters = ServiceCounters()
        self._counter_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._handlers: set[threading.Thread] = set()

    @property
    def port(self) -> int:
        port: int = self._sock.getsockname()[1]
        return port

    @property
    def host(self) -> str:
        return str(self._sock.getsockname()[0])

    def start(self) -> None:
        if self._thread is not None:
            return  # already serving (start_enrolment starts it; `with` may follow)
        self._thread = threading.Thread(target=self._accept_loop, name=f"enrolment-{self.port}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, wait (bounded) for conversations in progress, close the socket."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        deadline = time.monotonic() + timeout
        for handler in list(self._handlers):
            handler.join(max(0.0, deadline - time.monotonic()))
        self._sock.close()

    def __enter__(self) -> EnrolmentService:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _count(self, update: Callable[[ServiceCounters], None]) -> None:
        with self._counter_lock:
            update(self.counters)

    # ----------------------------------------------------------------- accepting
    def _accept_loop(self) -> None:
        next_sweep = time.monotonic()
        with selectors.DefaultSelector() as selector:
            selector.register(self._sock, selectors.EVENT_READ)
            while not self._stop.is_set():
                if time.monotonic() >= next_sweep:
                    self._sweep_expired()
                    next_sweep = time.monotonic() + self.expiry_sweep_s
                if not selector.select(timeout=0.2):
                    continue
                try:
                    conn, address = self._sock.accept()
                except OSError:
                    continue
                if not self._slots.acquire(blocking=False):
                    self._count(lambda c: setattr(c, "turned_away", c.turned_away + 1))
                    conn.close()
                    continue
                handler = threading.Thread(
                    target=self._handle, args=(conn, address), name="enrolment-conn", daemon=True
                )
                self._handlers.add(handler)
                handler.start()

    def _sweep_expired(self) -> None:
        """Devices whose certificate ran out become Expired (a short range read, on the accept thread)."""
        try:
            expired = self._desk.expire_due()
        except StationError as exc:
            _log.warning("could not mark expired device certificates now: %s", exc)
            return
        if expired:
            _log.info("%d device certificate(s) expired", expired)

    def _handle(self, conn: socket.socket, address: Any) -> None:
        try:
            self._count(lambda c: setattr(c, "connections", c.connections + 1))
            conn.settimeout(self.line_timeout)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # one short line per turn
            try:
                tls = self._context.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError) as exc:
                self._count(lambda c: setattr(c, "handshake_failures", c.handshake_failures + 1))
                _log.info("TLS handshake with %s failed: %s", address[0], exc)
                conn.close()
                return
            with tls:
                _Conversation(self, tls, str(address[0])).run()
        finally:
            self._slots.release()
            self._handlers.discard(threading.current_thread())


class _Conversation:
    """One device's enrolment on one TLS connection, message by message (docs/enrolment-protocol.md)."""

    def __init__(self, service: EnrolmentService, tls: ssl.SSLSocket, peer: str) -> None:
        self.service = service
        self.tls = tls
        self.peer = peer
        self.reader: BinaryIO = tls.makefile("rb")
        self.deadline = time.monotonic() + service.connection_timeout
        self.device_id = "-"

    def run(self) -> None:
        try:
            self._converse()
        except ProtocolError as refusal:
            self._refused(refusal)
        except (OSError, ssl.SSLError) as exc:
            _log.info("connection from %s (device %s) ended: %s", self.peer, self.device_id, exc)
        except Exception:  # a bug must cost one device one attempt, not the service
            _log.exception("enrolment of device %s failed inside the service", self.device_id)
            failure = ProtocolError(ErrorCode.UNAVAILABLE, "the service failed on this request; try again")
            self._refused(failure)
        finally:
            self.reader.close()

    def _refused(self, refusal: ProtocolError) -> None:
        code = refusal.code.value
        self.service._count(lambda c: c.refused.__setitem__(code, c.refused.get(code, 0) + 1))
        _log.warning("enrolment refused (%s, device %s): %s", self.peer, self.device_id, refusal)
        with contextlib.suppress(OSError, ssl.SSLError):
            self._send(protocol.error(refusal.code, refusal.message))

    def _send(self, message: dict[str, Any]) -> None:
        self.tls.sendall(protocol.encode(message))

    def _receive(self, *, end_allowed: bool = False) -> dict[str, Any] | None:
        """The next message; None when `end_allowed` and the device closed the connection there."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ProtocolError(ErrorCode.TIMEOUT, "the enrolment took too long; connect again")
        self.tls.settimeout(min(self.service.line_timeout, left))
        try:
            line = self.reader.readline(protocol.MAX_LINE + 1)
        except TimeoutError:
            raise ProtocolError(ErrorCode.TIMEOUT, "no complete line arrived in time") from None
        if len(line) > protocol.MAX_LINE:
            raise ProtocolError(ErrorCode.LINE_TOO_LONG, f"a line is at most {protocol.MAX_LINE} bytes")
        if not line and end_allowed:
            return None
        if not line.endswith(b"\n"):
            raise ConnectionResetError("the device closed the connection mid-conversation")
        return protocol.decode_line(line)

    def _next(self) -> dict[str, Any]:
        message = self._receive()
        assert message is not None  # only `end_allowed` receives return None
        return message

    def _converse(self) -> None:
        hello = protocol.parse_hello(self._next())
        self.device_id = hello.device_id
        epk = _public_key(hello.epk_der, "epk", ErrorCode.BAD_KEY)
        if hashlib.sha256(hello.epk_der).hexdigest() != hello.device_id:
            raise ProtocolError(
                ErrorCode.DEVICE_ID_MISMATCH,
                "device_id is not SHA-256 of the DER enrolment public key (epk) sent with it",
            )
        desk = self.service._desk
        _instance_call(lambda: desk.standing(hello.device_id))
        nonce = secrets.token_bytes(protocol.NONCE_BYTES)
        self._send({"type": "challenge", "nonce": protocol.b64(nonce)})

        message = self._next()
        if message["type"] == "check_in":
            self._check_in(hello.device_id, epk, nonce, protocol.parse_check_in(message))
        else:
            self._enrol(hello.device_id, epk, nonce, message)
        self._status(hello.device_id)

    def _check_in(
        self, device_id: str, epk: ec.EllipticCurvePublicKey, nonce: bytes, signature: bytes
    ) -> None:
        try:
            epk.verify(signature, protocol.check_in_bytes(nonce, device_id), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise ProtocolError(
                ErrorCode.BAD_SIGNATURE, "the check-in signature does not verify with the enrolment key"
            ) from None
        desk = self.service._desk
        held = _instance_call(lambda: desk.check_in(device_id))
        self.service._count(lambda c: setattr(c, "checked_in", c.checked_in + 1))
        self._send({"type": "checked_in", "serial": held.serial_hex, "not_after": held.not_after.isoformat()})

    def _enrol(
        self, device_id: str, epk: ec.EllipticCurvePublicKey, nonce: bytes, message: dict[str, Any]
    ) -> None:
        request = protocol.parse_enrol(message)
        csr = _csr(request.csr_der)
        try:
            epk.verify(
                request.signature,
                protocol.signed_bytes(nonce, device_id, request.csr_der),
                ec.ECDSA(hashes.SHA256()),
            )
        except InvalidSignature:
            raise ProtocolError(
                ErrorCode.BAD_SIGNATURE, "the challenge signature does not verify with the enrolment key"
            ) from None
        device_key = csr.public_key()
        assert isinstance(device_key, ec.EllipticCurvePublicKey)  # checked by _csr
        desk = self.service._desk
        issued = _instance_call(lambda: desk.enrol(device_id, device_key))
        self.service._count(lambda c: setattr(c, "enrolled", c.enrolled + 1))
        _log.info("device %s enrolled (certificate serial %s)", device_id, issued.serial_hex)
        self._send(
            {
                "type": "certificate",
                "certificate": protocol.b64(issued.certificate_der),
                "chain": [protocol.b64(der) for der in issued.chain_der],
                "serial": issued.serial_hex,
                "not_after": issued.not_after.isoformat(),
                "state": issued.state.value,
                "first": issued.first,
            }
        )

    def _status(self, device_id: str) -> None:
        desk = self.service._desk
        status = protocol.parse_status(self._next())
        standing = _instance_call(lambda: desk.report_status(device_id, status.firmware))
        offered = standing.offered
        update = offered is not None and offered.version != status.firmware
        answer: dict[str, Any] = {
            "type": "status",
            "state": standing.state.value,
            "batch": standing.batch,
            "update": update,
            "firmware": offered.name if offered else None,
        }
        if offered is not None:
            answer |= {"version": offered.version, "size": offered.size, "sha256": offered.sha256}
        self._send(answer)
        if update:
            assert offered is not None
            _FirmwareDownload(self, standing.batch, offered).serve()


class _FirmwareDownload:
    """The rest of a connection whose status answer offered an update: `firmware_get` until the device
    has what it needs and closes the connection (docs/enrolment-protocol.md, messages 7 and 8)."""

    def __init__(self, conversation: _Conversation, batch: str, offered: OfferedFirmware) -> None:
        self.conversation = conversation
        self.batch = batch
        self.offered = offered
        self.image: bytes | None = None

    def serve(self) -> None:
        talk, offered = self.conversation, self.offered
        while (message := talk._receive(end_allowed=True)) is not None:
            request = protocol.parse_firmware_get(message)
            if (request.firmware, request.sha256) != (offered.name, offered.sha256):
                raise ProtocolError(
                    ErrorCode.NO_UPDATE,
                    f"this connection offered firmware {offered.name!r} with SHA-256 {offered.sha256}; "
                    "ask for status again",
                )
            if request.chip != offered.device_type.value:
                raise ProtocolError(
                    ErrorCode.WRONG_CHIP,
                    f"firmware {offered.name!r} is built for {offered.device_type.value}, this device is "
                    f"{request.chip[:16]}: give batch {self.batch!r} a firmware for this device type",
                )
            image = self._image()
            if request.offset > len(image):
                raise ProtocolError(
                    ErrorCode.BAD_MESSAGE,
                    f"offset {request.offset} is past the end of the {len(image)}-byte image",
                )
            data = image[request.offset : request.offset + request.length]
            talk._send(
                {
                    "type": "firmware_chunk",
                    "offset": request.offset,
                    "data": protocol.b64(data),
                    "size": len(image),
                    "sha256": offered.sha256,
                    "version": offered.version,
                }
            )
            if data and request.offset + len(data) == len(image):
                self._sent()

    def _sent(self) -> None:
        talk, offered, desk = self.conversation, self.offered, self.conversation.service._desk
        talk.service._count(lambda c: setattr(c, "firmware_downloads", c.firmware_downloads + 1))
        _instance_call(lambda: desk.note_firmware_sent(talk.device_id, offered.name, offered.version))

    def _image(self) -> bytes:
        if self.image is None:
            desk, offered = self.conversation.service._desk, self.offered
            try:
                self.image = desk.firmware_image(offered.name, offered.sha256)
            except NotFoundError as exc:
                raise ProtocolError(ErrorCode.NO_UPDATE, str(exc)) from None
        return self.image


def _public_key(der: bytes, name: str, code: ErrorCode) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError):
        raise ProtocolError(code, f"{name} is not a DER SubjectPublicKeyInfo public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ProtocolError(code, f"{name} must be an EC P-256 public key")
    return key


def _csr(der: bytes) -> x509.CertificateSigningRequest:
    try:
        csr = x509.load_der_x509_csr(der)
        key = csr.public_key()
        valid = csr.is_signature_valid
    except (ValueError, TypeError):
        raise ProtocolError(ErrorCode.BAD_CSR, "csr is not a DER PKCS#10 certificate request") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ProtocolError(ErrorCode.BAD_CSR, "the CSR's key must be an EC P-256 key")
    if not valid:
        raise ProtocolError(ErrorCode.BAD_CSR, "the CSR's signature does not verify with its own key")
    return csr


def _instance_call(call: Callable[[], _T]) -> _T:
    """Run an instance call, turning its refusals into the protocol's error codes."""
    try:
        return call()
    except DeviceRevokedError as exc:
        raise ProtocolError(ErrorCode.REVOKED, str(exc)) from None
    except NotEnrolledError as exc:
        raise ProtocolError(ErrorCode.NOT_ENROLLED, str(exc)) from None
    except NotFoundError as exc:
        raise ProtocolError(ErrorCode.UNKNOWN_DEVICE, str(exc)) from None
    except StationError as exc:  # locked keys, a busy or broken database, a full disk
        raise ProtocolError(
            ErrorCode.UNAVAILABLE, f"the instance cannot issue certificates right now: {exc}"
        ) from None
