"""The records an instance holds, as immutable plain data.

These cross every boundary (instance -> engine -> UI, and later HTTP and the offline mirror), so they
hold no behaviour beyond small derived properties and carry no secret: a signing key record has its
public part only.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from app.domain.chips import ChipType
from app.domain.device_id import DeviceID
from app.domain.errors import ValidationError
from app.domain.kinds import (
    BootloaderKind,
    ConnectionType,
    DeviceState,
    HealthLevel,
    IefKind,
    ImageKind,
    KeyType,
    Role,
)
from app.domain.run_options import TaskRunOptions

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 10_000
MAX_OFFSET = 2**53 - 1
"""The furthest a listing can be skipped into: the largest integer every JSON reader keeps exact (offsets
cross HTTP), and far inside SQLite's signed 64-bit range, so no offset can overflow a query."""


def shown_int(value: int) -> str:
    """An integer for a message: huge ones by size, as printing one past 4300 digits raises ValueError."""
    return str(value) if value.bit_length() <= 200 else f"a {value.bit_length()}-bit number"


@dataclass(frozen=True)
class PageRequest:
    """Which slice of a listing to return. Listings are never returned whole."""

    offset: int = 0
    limit: int = DEFAULT_PAGE_SIZE
    search: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.offset <= MAX_OFFSET:
            raise ValidationError(f"a page offset must be 0 to {MAX_OFFSET:,}; got {shown_int(self.offset)}")
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise ValidationError(f"a page limit must be 1 to {MAX_PAGE_SIZE:,}; got {shown_int(self.limit)}")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    total: int
    offset: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.items) < self.total


@dataclass(frozen=True)
class DeviceCounts:
    """How many devices are in each state. `total` counts every device, whatever its state."""

    registered: int = 0
    enrolled: int = 0
    revoked: int = 0
    expired: int = 0
    renewed: int = 0

    @property
    def total(self) -> int:
        return self.registered + self.enrolled + self.revoked + self.expired + self.renewed

    def of(self, state: DeviceState) -> int:
        value: int = getattr(self, state.value)
        return value


@dataclass(frozen=True)
class Batch:
    name: str
    policy: str
    created_at: datetime
    counts: DeviceCounts
    firmware: str | None = None
    attribute_filters: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Policy:
    """The terms a batch's devices enrol under. `batches` is how many batches use it, as listed."""

    name: str
    connection: ConnectionType
    certificate_days: int  # lifetime of a device certificate
    auto_renew: bool  # a device may renew its certificate before it runs out
    jwt_minutes: int  # lifetime of the JWT a device is given for its connection
    created_at: datetime
    batches: int = 0

    @property
    def terms(self) -> str:
        """Its terms in one line, as the activity log and the CLI say them."""
        renew = "auto-renew" if self.auto_renew else "no auto-renew"
        return (
            f"certificates {self.certificate_days} days, {renew}, JWT {self.jwt_minutes} min, "
            f"connection {self.connection.value}"
        )


@dataclass(frozen=True)
class Device:
    device_id: DeviceID
    batch: str
    state: DeviceState
    added_at: datetime
    firmware: str = ""  # what the device last said it runs (enrolment status); "" before it enrolled


@dataclass(frozen=True)
class DeviceCertificate:
    """A device's place in the lifecycle: its current certificate (public parts only) and its state.

    `enrolled_at` is the device's last enrolment, the last time the instance saw it prove its key ("last
    seen"); `firmware` is the version it last reported ("" until it reports one).
    """

    device_id: DeviceID
    state: DeviceState
    serial_hex: str
    not_before: datetime
    not_after: datetime
    first_enrolled_at: datetime
    enrolled_at: datetime
    enrolments: int
    firmware: str
    certificate_pem: str


@dataclass(frozen=True)
class AddDevicesResult:
    """What a bulk add did. Duplicates are counted; a sample of each kind is kept for the person."""

    added: int
    duplicates_in_input: int = 0
    already_present: int = 0
    duplicate_samples: tuple[DeviceID, ...] = ()
    present_samples: tuple[tuple[DeviceID, str], ...] = ()  # (id, batch that already holds it)


@dataclass(frozen=True)
class SigningKey:
    """A signing key held by the instance. Only its public part ever leaves the instance."""

    name: str
    key_type: KeyType
    public_key_pem: str
    key_digest_hex: str  # Secure Boot V2 digest of the public key, as burned into eFuse
    created_at: datetime


@dataclass(frozen=True)
class CertificateInfo:
    role: str  # "root", "issuing" or "tls" for the instance PKI
    subject: str
    issuer: str
    serial_hex: str
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str
    pem: str


@dataclass(frozen=True)
class FirmwareImage:
    """An image in the instance's catalog. `variant` is the bootloader or IEF kind, '' otherwise."""

    name: str
    device_type: ChipType
    kind: ImageKind
    variant: str
    size: int
    sha256: str
    simulation: bool
    created_at: datetime


@dataclass(frozen=True)
class ProvisioningTask:
    name: str
    device_type: ChipType
    bootloader: BootloaderKind
    ief: IefKind
    signing_key: str
    bootloader_image: str
    partition_table_image: str
    ief_image: str
    created_at: datetime
    run_options: TaskRunOptions = field(default_factory=TaskRunOptions)  # enrolment wait, flashing rate


@dataclass(frozen=True)
class FlashImage:
    """One image ready to be written: where, what, and its SHA-256 for the provisioning record."""

    offset: int
    kind: ImageKind
    name: str
    data: bytes = field(repr=False)
    sha256: str = ""


@dataclass(frozen=True)
class TaskImages:
    """The images of a task, signed by the instance with the task's key, in flashing order."""

    task: str
    device_type: ChipType
    bootloader_kind: BootloaderKind
    key_digest_hex: str
    images: tuple[FlashImage, ...]


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    created_at: datetime


@dataclass(frozen=True)
class ActivityEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    details: str = ""


@dataclass(frozen=True)
class ComponentHealth:
    """One dashboard status panel: e.g. HSM 'ok', IoT Hubs '3 of 5' (degraded)."""

    name: str
    level: HealthLevel
    up: int
    total: int
    detail: str

    @property
    def label(self) -> str:
        if self.level is HealthLevel.DEGRADED:
            return f"{self.up} of {self.total}"
        return str(self.level.value)


@dataclass(frozen=True)
class CertificateCounts:
    valid: int = 0
    expired: int = 0
    not_used: int = 0


@dataclass(frozen=True)
class DashboardSummary:
    health: tuple[ComponentHealth, ...]
    devices: DeviceCounts
    certificates: CertificateCounts
    last_activity: tuple[ActivityEntry, ...]


@dataclass(frozen=True)
class InstanceParams:
    """What a board's IEF asks for to reach the instance. The root CA is public."""

    endpoint: str
    port: int
    root_ca_pem: str

    @property
    def root_ca_base64(self) -> str:
        """The root CA as the IEF takes it: the certificate (DER) base64-encoded on one line."""
        return certificate_base64(self.root_ca_pem)


_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
_PEM_END = "-----END CERTIFICATE-----"


def certificate_base64(pem: str) -> str:
    """A PEM certificate as one line of base64 of its DER: the PEM body without armour or breaks.

    This is the form the IEF receives. Base64 of the whole PEM text would be a third longer (an EC
    root CA's 818 PEM bytes become 1092) and overflow the IEF's single 1024-byte read.
    """
    lines = [line.strip() for line in pem.strip().splitlines()]
    if len(lines) < 3 or lines[0] != _PEM_BEGIN or lines[-1] != _PEM_END:
        raise ValidationError(f"the root CA is not one PEM certificate ({_PEM_BEGIN} ... {_PEM_END})")
    try:
        der = base64.b64decode("".join(lines[1:-1]), validate=True)
    except binascii.Error:
        raise ValidationError("the root CA's PEM body is not valid base64") from None
    return base64.b64encode(der).decode("ascii")


@dataclass(frozen=True)
class InstanceInfo:
    """Which instance this is and who is acting on it, for status bars and `instance status`."""

    name: str
    kind: str  # "local" or "remote"
    location: str  # database path or URL
    version: str
    actor: str
    role: Role


def sample(values: Sequence[T], limit: int = 20) -> tuple[T, ...]:
    """The first `limit` values: enough for a person to see what went wrong, not a million lines."""
    return tuple(values[:limit])


@dataclass(frozen=True)
class Firmware:
    """An app image in the instance's firmware catalog, signed (Secure Boot V2) by one of its keys.

    `size` and `sha256` are of the signed image, the bytes a device downloads. `devices_running` counts
    the devices whose last status reported this version (devices report a version, not a name).
    """

    name: str
    version: str
    device_type: ChipType
    attributes: tuple[tuple[str, str], ...]
    size: int
    sha256: str
    signing_key: str
    key_digest_hex: str
    created_at: datetime
    devices_running: int = 0
