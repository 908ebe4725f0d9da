"""Small closed vocabularies: each an Enum whose value is the word used in the CLI, files and the UI."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from app.domain.errors import ValidationError

_E = TypeVar("_E", bound=Enum)


def parse_choice(enum: type[_E], value: str, what: str) -> _E:
    """Parse `value` as a member of `enum` by its value, or say which words are accepted."""
    text = value.strip().lower()
    for member in enum:
        if member.value == text:
            return member
    accepted = ", ".join(str(m.value) for m in enum)
    raise ValidationError(f"{what} must be one of {accepted}; got {value!r}")


class BootloaderKind(Enum):
    """Dev bootloaders leave the chip re-flashable; a release bootloader burns secure-boot eFuses."""

    DEV = "dev"
    RELEASE = "release"


class IefKind(Enum):
    """A debug IEF prints verbose logs on the UART; a non-debug one only what the protocol needs."""

    DEBUG = "debug"
    NON_DEBUG = "non-debug"


class ImageKind(Enum):
    BOOTLOADER = "bootloader"
    PARTITION_TABLE = "partition-table"
    IEF = "ief"


class DeviceState(Enum):
    REGISTERED = "registered"
    ENROLLED = "enrolled"
    REVOKED = "revoked"
    EXPIRED = "expired"
    RENEWED = "renewed"


class Role(Enum):
    ADMINISTRATOR = "administrator"
    CONTRIBUTOR = "contributor"


class ConnectionType(Enum):
    """Where a policy's enrolled devices send their data. Only `none` works today; the IoT hub and
    Database Direct are recorded on the policy and configured in a later issue."""

    NONE = "none"
    IOT_HUB = "iot-hub"
    DATABASE_DIRECT = "database-direct"


class KeyType(Enum):
    ECDSA_P256 = "ecdsa-p256"
    RSA_3072 = "rsa-3072"


class HealthLevel(Enum):
    """Dashboard status colours: all good, partly working ("3 of 5"), or down."""

    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"
