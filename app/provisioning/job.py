"""What the station hands a port worker: everything one board's run needs, sent as JSON on stdin.

Stdin, because argv and the environment of a process can be read by other users of the computer, and
the job carries the WiFi password. For the same reason the password is hidden from `repr()`/`str()`
and every event line is passed through `Redactor` before it leaves the worker.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, TypeVar

from app.domain.chips import ChipType
from app.domain.errors import ValidationError
from app.domain.kinds import BootloaderKind, ImageKind
from app.domain.records import FlashImage, InstanceParams
from app.domain.run_options import FLASH_BAUDS as FLASH_BAUDS  # the allowed rates, as before
from app.domain.run_options import check_enrol_wait
from app.provisioning.staged_images import StagedImages, read_staged

_T = TypeVar("_T")
JOB_VERSION = 2  # 2: images by file instead of base64 in the line
DEFAULT_BAUD = 921600
AUTO_BAUD = 0
"""`baud` of a job whose rate the station picks from the port's USB bridge (app/provisioning/flash_rate)."""
MASK = "********"
MAX_SSID_BYTES = 32
MIN_WPA_PASSWORD = 8
MAX_WPA_PASSWORD = 63


def next_lower_baud(baud: int) -> int | None:
    """The next lower flashing rate (115200: the ROM's own, no switch at all), or None below that.

    The flash step falls back to it once when a write fails (app/provisioning/flash_rate.py)."""
    lower = [rate for rate in FLASH_BAUDS if rate < baud]
    return max(lower) if lower else None


class JobMode(Enum):
    PROVISION = "provision"
    REENROL = "reenrol"


class ConnectReset(Enum):
    """How the worker brings the board into download mode (esptool's `--before`)."""

    DEFAULT = "default-reset"
    NO_RESET = "no-reset"


@dataclass(frozen=True)
class Timeouts:
    """Seconds allowed for each step; `overall` is enforced by the station, which kills the worker."""

    detect: float = 20.0
    check: float = 10.0
    flash: float = 180.0
    boot: float = 15.0
    ief: float = 30.0
    network: float = 15.0  # after the DeviceID, to see the board join WiFi (see ief_session)
    overall: float = 300.0

    def __post_init__(self) -> None:
        for name in _TIMEOUT_NAMES:
            if not getattr(self, name) > 0:
                raise ValidationError(f"the {name} timeout must be a positive number of seconds")


@dataclass(frozen=True)
class PortJob:
    """One board's job. `release_confirmed` is set only after the station checked the typed confirmation."""

    mode: JobMode
    port: str
    batch: str
    task: str
    device_type: ChipType | None
    bootloader: BootloaderKind | None
    key_digest_hex: str
    images: tuple[FlashImage, ...]
    instance: InstanceParams
    wifi_ssid: str
    wifi_password: str = field(repr=False)
    baud: int = DEFAULT_BAUD  # AUTO_BAUD: chosen by the station from the port's USB bridge
    rate_note: str = ""  # why this baud (the USB bridge's datasheet limit, or set for the run)
    release_confirmed: bool = False
    connect_reset: ConnectReset = ConnectReset.DEFAULT
    timeouts: Timeouts = field(default_factory=Timeouts)
    enrol_wait_s: float = 0.0  # after the push, wait this long for the instance to say Enrolled; 0: don't
    # The images' zlib streams as the station made them (app/provisioning/staged_images.py), in order;
    # filled in by `from_json` in the worker, whose esptool then does not compress the images again.
    deflated: tuple[bytes, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        validate_wifi(self.wifi_ssid, self.wifi_password)
        check_enrol_wait(self.enrol_wait_s)
        if self.mode is JobMode.PROVISION:
            if not self.images:
                raise ValidationError("a provisioning job needs the task's images; none were given")
            if self.device_type is None or self.bootloader is None:
                raise ValidationError("a provisioning job needs the task's device type and bootloader kind")

    def __str__(self) -> str:
        return repr(self)

    def __repr__(self) -> str:
        images = ", ".join(f"{i.name}@{i.offset:#x}" for i in self.images)
        return (
            f"PortJob(mode={self.mode.value}, port={self.port!r}, batch={self.batch!r}, task={self.task!r}, "
            f"device_type={_value(self.device_type)}, bootloader={_value(self.bootloader)}, "
            f"images=[{images}], "
            f"endpoint={self.instance.endpoint}:{self.instance.port}, wifi_ssid={self.wifi_ssid!r}, "
            f"wifi_password={MASK}, baud={self.baud})"
        )

    def for_port(self, port: str) -> PortJob:
        return replace(self, port=port)

    @property
    def image_sha256s(self) -> tuple[str, ...]:
        return tuple(image.sha256 for image in self.images)

    def to_json(self, staged: StagedImages) -> str:
        """One line of JSON; the images go by file (app/provisioning/staged_images.py), named with their
        SHA-256, so the line stays a few kilobytes however big the images are."""
        head = json.dumps(
            {
                "version": JOB_VERSION,
                "mode": self.mode.value,
                "port": self.port,
                "batch": self.batch,
                "task": self.task,
                "device_type": _value(self.device_type),
                "bootloader": _value(self.bootloader),
                "key_digest_hex": self.key_digest_hex,
                "instance": {
                    "endpoint": self.instance.endpoint,
                    "port": self.instance.port,
                    "root_ca_pem": self.instance.root_ca_pem,
                },
                "wifi_ssid": self.wifi_ssid,
                "wifi_password": self.wifi_password,
                "baud": self.baud,
                "rate_note": self.rate_note,
                "release_confirmed": self.release_confirmed,
                "connect_reset": self.connect_reset.value,
                "timeouts": {name: getattr(self.timeouts, name) for name in _TIMEOUT_NAMES},
            }
        )
        images = ", ".join(_image_json(image, staged) for image in self.images)
        return f'{head[:-1]}, "images": [{images}]}}'

    @classmethod
    def from_json(cls, text: str | bytes) -> PortJob:
        """Parse a job; anything missing or malformed is a ValidationError that never quotes the password."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValidationError(f"the job is not valid JSON ({exc.__class__.__name__})") from None
        if not isinstance(data, dict):
            raise ValidationError("the job must be a JSON object")
        if data.get("version") != JOB_VERSION:
            raise ValidationError(
                f"the job has version {data.get('version')!r}; this worker reads version {JOB_VERSION}"
            )
        reader = _Reader(data)
        instance = _Reader(reader.get("instance", dict), "instance")
        images = [_image_from_json(item, i) for i, item in enumerate(reader.get("images", list))]
        timeouts = _Reader(reader.get("timeouts", dict), "timeouts")
        return cls(
            mode=reader.enum("mode", JobMode),
            port=reader.get("port", str),
            batch=reader.get("batch", str),
            task=reader.get("task", str),
            device_type=_optional(reader.get("device_type", str), ChipType.parse),
            bootloader=_optional(reader.get("bootloader", str), BootloaderKind),
            key_digest_hex=reader.get("key_digest_hex", str),
            images=tuple(image for image, _ in images),
            deflated=tuple(stream for _, stream in images),
            instance=InstanceParams(
                endpoint=instance.get("endpoint", str),
                port=instance.get("port", int),
                root_ca_pem=instance.get("root_ca_pem", str),
            ),
            wifi_ssid=reader.get("wifi_ssid", str),
            wifi_password=reader.get("wifi_password", str),
            baud=reader.get("baud", int),
            rate_note=reader.get("rate_note", str) if "rate_note" in data else "",
            release_confirmed=reader.get("release_confirmed", bool),
            connect_reset=reader.enum("connect_reset", ConnectReset),
            timeouts=Timeouts(**{name: float(timeouts.get(name, (int, float))) for name in _TIMEOUT_NAMES}),
        )


_TIMEOUT_NAMES = ("detect", "check", "flash", "boot", "ief", "network", "overall")


def _value(member: Enum | None) -> str:
    return "" if member is None else str(member.value)


def _optional(text: str, parse: Callable[[str], _T]) -> _T | None:
    if not text:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise ValidationError(f"the job has a bad device type or bootloader kind: {exc}") from None


def validate_wifi(ssid: str, password: str) -> None:
    """The IEF sends each value as one line, so neither may hold a line break; WPA2 sets the lengths."""
    if not ssid:
        raise ValidationError("the WiFi network name (SSID) cannot be empty")
    if len(ssid.encode("utf-8")) > MAX_SSID_BYTES:
        raise ValidationError(f"the WiFi network name is longer than {MAX_SSID_BYTES} bytes")
    if any(ch in ssid for ch in "\r\n\x00"):
        raise ValidationError("the WiFi network name cannot contain a line break or a NUL character")
    if not password:
        return  # an open network
    if any(ch in password for ch in "\r\n\x00"):
        raise ValidationError("the WiFi password cannot contain a line break or a NUL character")
    if not password.isascii() or not password.isprintable():
        raise ValidationError("the WiFi password must be printable ASCII characters (a WPA2 passphrase)")
    if not MIN_WPA_PASSWORD <= len(password) <= MAX_WPA_PASSWORD:
        raise ValidationError(
            f"a WPA2 WiFi password has {MIN_WPA_PASSWORD} to {MAX_WPA_PASSWORD} characters; "
            f"the one given has {len(password)}"
        )


def _image_json(image: FlashImage, staged: StagedImages) -> str:
    files = staged.path_for(image)
    fields = {"offset": image.offset, "kind": image.kind.value, "name": image.name, "sha256": files.sha256}
    paths = {"file": str(files.path), "deflated_file": str(files.deflated)}
    return json.dumps({**fields, **paths, "deflated_sha256": files.deflated_sha256})


def _image_from_json(item: object, index: int) -> tuple[FlashImage, bytes]:
    if not isinstance(item, dict):
        raise ValidationError(f"job image #{index + 1} is not an object")
    reader = _Reader(item, f"images[{index}]")
    name = reader.get("name", str)
    offset = reader.get("offset", int)
    if offset < 0:
        raise ValidationError(f"job image {name!r} has a negative offset")
    kind = reader.enum("kind", ImageKind)
    sha256 = reader.get("sha256", str)
    files = reader.get("file", str), reader.get("deflated_file", str)
    data, deflated = read_staged(*files, sha256, reader.get("deflated_sha256", str), name)
    return FlashImage(offset=offset, kind=kind, name=name, data=data, sha256=sha256), deflated


class _Reader:
    """Typed access to a JSON object, with errors that name the field (and never echo its value)."""

    def __init__(self, data: dict[str, Any], where: str = "job") -> None:
        self._data = data
        self._where = where

    def get(self, name: str, kind: Any) -> Any:
        if name not in self._data:
            raise ValidationError(f"the {self._where} has no {name!r} field")
        value = self._data[name]
        if (kind is not bool and isinstance(value, bool)) or not isinstance(value, kind):
            raise ValidationError(f"the {self._where} field {name!r} has the wrong type")
        return value

    def enum(self, name: str, enum: type[Any]) -> Any:
        value = self.get(name, str)
        try:
            return enum(value)
        except ValueError:
            accepted = ", ".join(str(m.value) for m in enum)
            raise ValidationError(f"the {self._where} field {name!r} must be one of {accepted}") from None


class Redactor:
    """Replaces every occurrence of a secret in text that is about to leave the process."""

    def __init__(self, *secrets: str) -> None:
        self._secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))
        # JSON escapes a string one character at a time, so a secret anywhere in a text value shows in
        # the encoded line as its own encoding: one search of the line clears an event of every secret.
        self._encoded = tuple(json.dumps(s)[1:-1] for s in self._secrets)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def covers_encoded(self, line: str) -> bool:
        """True if no text value inside `line` (JSON from `json.dumps`, ASCII-escaped) holds a secret.

        A False may be a false alarm (the encoding can also occur across an escape); the caller then
        redacts value by value, which is always right. A True is exact."""
        return not any(encoded in line for encoded in self._encoded)

    def covers(self, text: str) -> bool:
        """True if `text` holds none of the secrets (used by tests and as a last check)."""
        return not any(secret in text for secret in self._secrets)
