"""Messages of the enrolment protocol (docs/enrolment-protocol.md): one JSON object per line over TLS.

Everything a device sends is checked here before anything else looks at it: the line's size, that it is
UTF-8 JSON, that it is an object with a known `type`, and every field's JSON type and size. Each problem
is a `ProtocolError` with its own code, which the service sends back before it closes the connection.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

VERSION = 1
MAX_LINE = 8192  # bytes, newline included
NONCE_BYTES = 32
SIGNATURE_CONTEXT = b"QL-ENROL-1\x00"
CHECK_IN_CONTEXT = b"QL-CHECKIN-1\x00"
_MAX_KEY = 200  # a DER P-256 SubjectPublicKeyInfo is 91 bytes
_MAX_CSR = 2048
_MAX_SIGNATURE = 80  # a DER ECDSA P-256 signature is at most 72 bytes
_MAX_FIRMWARE = 64
_HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_CHUNK = 6144  # firmware bytes per chunk: 8 KiB of base64, well inside a device's line buffer
_MAX_OFFSET = 64 * 1024 * 1024
_MAX_CHIP = 16


class ErrorCode(StrEnum):
    LINE_TOO_LONG = "line_too_long"
    BAD_JSON = "bad_json"
    BAD_MESSAGE = "bad_message"
    UNEXPECTED_MESSAGE = "unexpected_message"
    UNSUPPORTED_VERSION = "unsupported_version"
    BAD_KEY = "bad_key"
    DEVICE_ID_MISMATCH = "device_id_mismatch"
    UNKNOWN_DEVICE = "unknown_device"
    REVOKED = "revoked"
    BAD_CSR = "bad_csr"
    BAD_SIGNATURE = "bad_signature"
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"
    NOT_ENROLLED = "not_enrolled"
    NO_UPDATE = "no_update"
    WRONG_CHIP = "wrong_chip"


class ProtocolError(Exception):
    """A refusal the service sends to the device as an `error` message, then closes the connection."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Hello:
    version: int
    device_id: str
    epk_der: bytes


@dataclass(frozen=True)
class EnrolRequest:
    csr_der: bytes
    signature: bytes


@dataclass(frozen=True)
class StatusRequest:
    firmware: str


@dataclass(frozen=True)
class FirmwareGet:
    firmware: str
    sha256: str
    chip: str
    offset: int
    length: int


def parse_firmware_get(message: dict[str, Any]) -> FirmwareGet:
    """`firmware_get`: a piece of the firmware the status answer offered, named by name and SHA-256."""
    expect_type(message, "firmware_get")
    sha256 = _string(message, "sha256", 64)
    if not _HEX64.fullmatch(sha256):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "field 'sha256' must be 64 lower-case hex characters")
    offset = _whole(message, "offset", 0, _MAX_OFFSET)
    length = _whole(message, "length", 1, MAX_CHUNK)
    return FirmwareGet(
        _string(message, "firmware", _MAX_FIRMWARE),
        sha256,
        _string(message, "chip", _MAX_CHIP),
        offset,
        length,
    )


def _whole(message: dict[str, Any], name: str, low: int, high: int) -> int:
    value = message.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"field {name!r} must be a whole number {low} to {high}")
    return value


def decode_line(line: bytes) -> dict[str, Any]:
    """One received line (newline included) as a JSON object with a string `type`."""
    if len(line) > MAX_LINE:
        raise ProtocolError(ErrorCode.LINE_TOO_LONG, f"a line is at most {MAX_LINE} bytes")
    try:
        value = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProtocolError(ErrorCode.BAD_JSON, "the line is not UTF-8 text") from None
    except ValueError as exc:
        raise ProtocolError(ErrorCode.BAD_JSON, f"the line is not JSON ({exc})") from None
    except RecursionError:
        raise ProtocolError(ErrorCode.BAD_JSON, "the JSON is nested too deeply") from None
    if not isinstance(value, dict):
        raise ProtocolError(ErrorCode.BAD_JSON, 'a message is a JSON object, e.g. {"type": "hello", ...}')
    if not isinstance(value.get("type"), str):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "the message has no string field 'type'")
    return value


def expect_type(message: dict[str, Any], wanted: str) -> None:
    if message["type"] != wanted:
        raise ProtocolError(
            ErrorCode.UNEXPECTED_MESSAGE, f"expected a {wanted!r} message here, got {message['type'][:32]!r}"
        )


def parse_hello(message: dict[str, Any]) -> Hello:
    expect_type(message, "hello")
    version = message.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "field 'version' must be a whole number")
    if version != VERSION:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_VERSION, f"this service speaks version {VERSION}, not {version}"
        )
    device_id = _string(message, "device_id", 64)
    if not _HEX64.fullmatch(device_id):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "field 'device_id' must be 64 lower-case hex characters")
    return Hello(version, device_id, _base64(message, "epk", _MAX_KEY))


def parse_enrol(message: dict[str, Any]) -> EnrolRequest:
    expect_type(message, "enrol")
    return EnrolRequest(_base64(message, "csr", _MAX_CSR), _base64(message, "signature", _MAX_SIGNATURE))


def parse_check_in(message: dict[str, Any]) -> bytes:
    """`check_in`: the ESK's signature over CHECK_IN_CONTEXT, the nonce and the DeviceID."""
    expect_type(message, "check_in")
    return _base64(message, "signature", _MAX_SIGNATURE)


def check_in_bytes(nonce: bytes, device_id: str) -> bytes:
    return CHECK_IN_CONTEXT + nonce + bytes.fromhex(device_id)


def parse_status(message: dict[str, Any]) -> StatusRequest:
    expect_type(message, "status")
    firmware = _string(message, "firmware", _MAX_FIRMWARE)
    if not firmware.isprintable():
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "field 'firmware' must be printable text")
    return StatusRequest(firmware)


def signed_bytes(nonce: bytes, device_id: str, csr_der: bytes) -> bytes:
    """What the device signs with its enrolment key: context, nonce, DeviceID, SHA-256 of the CSR."""
    return SIGNATURE_CONTEXT + nonce + bytes.fromhex(device_id) + hashlib.sha256(csr_der).digest()


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n"


def error(code: ErrorCode, text: str) -> dict[str, Any]:
    return {"type": "error", "code": code.value, "message": text}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _string(message: dict[str, Any], name: str, limit: int) -> str:
    value = message.get(name)
    if not isinstance(value, str):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"field {name!r} must be a string")
    if not value or len(value) > limit:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"field {name!r} must be 1 to {limit} characters")
    return value


def _base64(message: dict[str, Any], name: str, limit: int) -> bytes:
    text = _string(message, name, (limit + 2) // 3 * 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"field {name!r} is not valid base64") from None
