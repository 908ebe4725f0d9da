"""Fault knobs for tests: each makes one board misbehave the way real boards and cables do.

Faults are per board and mostly one-shot (a vanish or a stall triggers once, then the knob is spent), so
a test can show the fault and then the recovery. Byte counts are wire bytes in that direction since the
board was plugged in.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from app.domain.chips import ChipType


class Stage(Enum):
    """Named points in a board's life where a fault can be placed."""

    SYNC = "sync"  # the ROM answers its first SYNC
    STUB = "stub"  # the flasher stub starts (OHAI)
    CHANGE_BAUD = "change-baud"
    FLASH_BEGIN = "flash-begin"
    FLASH_DATA = "flash-data"  # first data block of a write
    FLASH_END = "flash-end"
    MD5 = "md5"
    READ_FLASH = "read-flash"
    ERASE = "erase"
    BOOT = "boot"  # normal boot starts (ROM banner)
    IEF_START = "ief-start"  # the IEF prints its first line
    IEF_REQUEST = "ief-request"  # first request (marker + request line) is sent
    DEVICE_ID = "device-id"  # the deviceID line is sent
    WIFI = "wifi"  # WiFi join starts


@dataclass
class Faults:
    vanish_at_rx_byte: int | None = None  # unplug after receiving this many bytes from the host
    vanish_at_stage: Stage | None = None  # unplug when this stage is reached
    corrupt_tx_every: int = 0  # flip the low bit of every Nth byte the board sends
    drop_tx_every: int = 0  # lose every Nth byte the board sends
    corrupt_rx_every: int = 0  # flip the low bit of every Nth byte the host sends
    drop_rx_every: int = 0  # lose every Nth byte the host sends
    stall_at_stage: Stage | None = None  # go silent (read nothing, send nothing) at this stage
    stall_seconds: float = float("inf")  # ... for this long (until reset if infinite)
    noise_lines_every: int = 0  # in the app, print a garbage line before every Nth line
    report_chip: ChipType | None = None  # the ROM identifies as this chip (boot still checks the real one)
    locked_key_digest: bytes | None = None  # a new board arrives with secure boot on, this digest burned

    def __post_init__(self) -> None:
        for name in (
            "corrupt_tx_every",
            "drop_tx_every",
            "corrupt_rx_every",
            "drop_rx_every",
            "noise_lines_every",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative")
        if self.locked_key_digest is not None and len(self.locked_key_digest) != 32:
            raise ValueError("locked_key_digest must be a 32-byte SHA-256 digest")
