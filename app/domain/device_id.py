"""DeviceID: SHA-256 of a device's enrolment public key, as 64 hexadecimal characters.

It is not secret. It is stored and compared in lowercase so that an ID typed in capitals and the same
ID sent by a board are one device. An ID that is one digit repeated (all zeros: an erased or missing
key) is refused: SHA-256 cannot produce it, so a board that sends one is faulty.
"""

from __future__ import annotations

import re
from typing import NewType

from app.domain.errors import ValidationError

DeviceID = NewType("DeviceID", str)

DEVICE_ID_LENGTH = 64
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_NOT_HEX = re.compile(r"[^0-9a-fA-F]")


def parse_device_id(value: object) -> DeviceID:
    """Return the canonical (lowercase) DeviceID, or raise ValidationError saying what is wrong."""
    if not isinstance(value, str):
        raise ValidationError(f"a DeviceID must be text, not {type(value).__name__}")
    text = value.strip()
    if not _HEX64.fullmatch(text):
        raise ValidationError(device_id_problem(text))
    if len(set(text.lower())) == 1:
        raise ValidationError(
            f"{text[:8]}... ({text[0]!r} 64 times) cannot be a DeviceID: SHA-256 never gives one digit "
            "repeated; the board's enrolment key is missing or its UART is faulty"
        )
    return DeviceID(text.lower())


def device_id_problem(text: str) -> str:
    """Explain why `text` is not a DeviceID (called only once it is known not to be one)."""
    if not text:
        return "a DeviceID cannot be empty"
    bad = _NOT_HEX.search(text)
    if bad is not None:
        return (
            f"a DeviceID has only hexadecimal digits 0-9 a-f; "
            f"{bad.group()!r} at position {bad.start() + 1} is not one"
        )
    return f"a DeviceID is exactly {DEVICE_ID_LENGTH} hexadecimal characters, this one has {len(text)}"
