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


class BootFailure(Enum):
    """A board that cannot start its firmware, each the way real boards show it on the UART (app/sim/boot.py).

    Unlike the one-shot faults it lasts: every boot from flash fails the same way (as on a real board)
    until the knob is cleared, while download mode (flashing) keeps working.
    """

    SECURE_BOOT = "secure-boot"  # the bootloader refuses the app's signature, then resets
    INVALID_HEADER = "invalid-header"  # the ROM finds no image header, loops until its watchdog resets it
    FLASH_READ = "flash-read"  # the ROM cannot read the flash
    BROWNOUT = "brownout"  # the app starts, the supply sags, the brown-out detector resets it
    WATCHDOG = "watchdog"  # the bootloader hangs and the RTC watchdog resets the chip, again and again
    PANIC = "panic"  # the app crashes at start (Guru Meditation Error), then reboots
    SILENT = "silent"  # nothing at all on the UART after reset (ROM output off, dead UART, wrong strap)
    DOWNLOAD_MODE = "download-mode"  # IO0 held low: every reset lands in the ROM's download mode


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
    boot_failure: BootFailure | None = None  # every boot from flash fails this way (see BootFailure)
    max_baud: int | None = None  # the USB bridge's limit: above it, bytes both ways are garbled
    corrupt_device_id: bool = False  # the IEF sends (and logs) its DeviceID with one digit changed, but
    # enrols with its real key: the ID pushed is not the hash of the key it proves (caught at `enrol`)
    ota_drop_at: int | None = None  # the network drops a firmware download after this many bytes

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
