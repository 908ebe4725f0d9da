"""What a pipeline step learned about the board, as typed fields rather than a dict read by string keys.

The detect step learns the chip, its MAC and its security state; flash, the SHA-256 of what it wrote;
the IEF step, the DeviceID, how it was checked, and whether the board joined WiFi. The station reads
these (the record's chip and MAC), the window shows them, and `provision --json` prints them. On the
wire a `step` event carries them as a JSON object of the fields that are set; a field this station does
not know, or one of the wrong type, makes the line unreadable as a whole (app/provisioning/events.py
turns it into an ErrorEvent), so nothing is half-read.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from app.provisioning.device_id_readings import ReadingCheck
from app.provisioning.ief_session import NetworkState


class FactsError(ValueError):
    """A `facts` object on the wire that does not match StepFacts."""


@dataclass(frozen=True)
class StepFacts:
    chip: str = ""  # detect: the chip's name, e.g. "ESP32-C3"
    chip_type: str = ""  # detect: the ChipType value, e.g. "esp32c3" ("" for a chip we do not provision)
    description: str = ""  # detect: esptool's description, with revision and features
    mac: str = ""
    secure_boot: bool | None = None  # detect: None when the chip's security state could not be read
    flash_encryption: bool | None = None
    key_digests: tuple[str, ...] = ()  # detect: Secure Boot V2 key digests burned in eFuse
    image_sha256s: tuple[tuple[str, str], ...] = ()  # flash: (image kind, SHA-256) of each image written
    device_id: str = ""  # ief
    id_check: ReadingCheck | None = None  # ief: how the DeviceID was checked against the board's log
    wifi: NetworkState | None = None  # ief: whether the board was seen joining WiFi
    ssid_sent: bool | None = None  # ief: False when the board kept the WiFi it had and never asked for ours
    ip: str = ""  # ief: the address the board got
    enrolled: bool | None = None  # enrol: True when the instance said Enrolled, False when it could not say
    firmware: str = ""  # enrol: the firmware the enrolled board reported to the instance

    def merged(self, later: StepFacts) -> StepFacts:
        """These facts, with whatever `later` sets replacing them (a run's facts, step after step)."""
        changes = {
            f.name: getattr(later, f.name) for f in fields(later) if getattr(later, f.name) != f.default
        }
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value == f.default:
                continue
            if isinstance(value, ReadingCheck | NetworkState):
                value = value.value
            elif isinstance(value, tuple):
                value = [list(item) if isinstance(item, tuple) else item for item in value]
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: object) -> StepFacts:
        if not isinstance(data, dict):
            raise FactsError("facts must be an object")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise FactsError(f"unknown fact(s) {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            values[name] = _read(name, value)
        return cls(**values)


def _read(name: str, value: Any) -> Any:
    if name in ("secure_boot", "flash_encryption", "ssid_sent", "enrolled"):
        return _typed(name, value, bool)
    if name == "key_digests":
        items = _typed(name, value, list)
        return tuple(_typed(name, item, str) for item in items)
    if name == "image_sha256s":
        pairs = _typed(name, value, list)
        if not all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs):
            raise FactsError("image_sha256s must be [kind, sha256] pairs")
        return tuple((kind, digest) for kind, digest in pairs)
    enum = {"id_check": ReadingCheck, "wifi": NetworkState}.get(name)
    if enum is not None:
        try:
            return enum(_typed(name, value, str))
        except ValueError:
            raise FactsError(f"{name} has an unknown value {value!r}") from None
    return _typed(name, value, str)


def _typed(name: str, value: Any, kind: type) -> Any:
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise FactsError(f"fact {name!r} has the wrong type ({type(value).__name__})")
    return value
