"""Built-in SIMULATION images: valid ESP images made without a toolchain, for virtual boards.

A virtual board cannot run Xtensa or RISC-V code, so each image carries a marker in its segment data
(`QLSIM1:<kind>:<variant>:<chip>`) that tells the simulator which behaviour it stands for. Apart from that
the images are real: esptool's own image classes write them (header, extended header with the chip id,
checksum, SHA-256), so `esptool image-info` reads them, espsecure signs and verifies them, and the
simulator's boot checks judge them exactly like any other image. They are unsigned here; the instance
signs the bootloader and the IEF (Secure Boot V2) before they are flashed.

Output is deterministic: the same chip and kind always give the same bytes (no timestamps, no randomness).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from esptool.bin_image import (
    ELFSection,
    ESP32C3FirmwareImage,
    ESP32FirmwareImage,
    ESP32S2FirmwareImage,
    ESP32S3FirmwareImage,
)

from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, IefKind, ImageKind
from app.sim.partition_table import build_partition_table

MARKER_PREFIX = b"QLSIM1:"
SIM_IDF_VERSION = "ql-sim"
SIM_APP_VERSION = "sim-1"
SIM_BUILD_DATE = "Jan  1 2025"
SIM_BUILD_TIME = "00:00:00"
FLASH_MODE_DIO = 2
FLASH_SIZE_FREQ_4MB_40M = 0x20
_APP_DESC_MAGIC = 0xABCD5432
_BOOTLOADER_DESC_MAGIC = 0x50
_CODE_SIZE = 2048


@dataclass(frozen=True)
class _ChipLayout:
    """Where the images' segments load, taken from the ranges ESP-IDF links each chip's images to."""

    image_class: type[ESP32FirmwareImage]
    bootloader_dram: int
    bootloader_iram: int
    app_drom: int
    app_iram: int
    min_rev_full: int  # ESP32 Secure Boot V2 needs silicon v3.0
    max_rev_full: int


_LAYOUTS: dict[ChipType, _ChipLayout] = {
    ChipType.ESP32: _ChipLayout(ESP32FirmwareImage, 0x3FFF0030, 0x40080400, 0x3F400020, 0x40080000, 300, 399),
    ChipType.ESP32C3: _ChipLayout(
        ESP32C3FirmwareImage, 0x3FCD5820, 0x403CE000, 0x3C000020, 0x40380000, 0, 199
    ),
    ChipType.ESP32S2: _ChipLayout(
        ESP32S2FirmwareImage, 0x3FFE6100, 0x4004B000, 0x3F000020, 0x40024000, 0, 199
    ),
    ChipType.ESP32S3: _ChipLayout(
        ESP32S3FirmwareImage, 0x3FCE3810, 0x403C9700, 0x3C000020, 0x40374000, 0, 99
    ),
}


@dataclass(frozen=True)
class SimImageMarker:
    """What a simulation image represents, as read back from its segment data."""

    kind: ImageKind
    variant: str  # a BootloaderKind or IefKind value
    chip: ChipType

    @property
    def bootloader_kind(self) -> BootloaderKind | None:
        return BootloaderKind(self.variant) if self.kind is ImageKind.BOOTLOADER else None

    @property
    def ief_kind(self) -> IefKind | None:
        return IefKind(self.variant) if self.kind is ImageKind.IEF else None

    def encode(self) -> bytes:
        return MARKER_PREFIX + f"{self.kind.value}:{self.variant}:{self.chip.value}".encode("ascii") + b"\x00"


def build_sim_bootloader(chip: ChipType, kind: BootloaderKind) -> bytes:
    """A second-stage bootloader image: a DRAM segment (bootloader description + marker) and IRAM code."""
    layout = _LAYOUTS[chip]
    marker = SimImageMarker(ImageKind.BOOTLOADER, kind.value, chip).encode()
    desc = struct.pack(
        "<B3sI32s24s16s",
        _BOOTLOADER_DESC_MAGIC,
        b"\x00" * 3,
        1,
        SIM_IDF_VERSION.encode(),
        f"{SIM_BUILD_DATE} {SIM_BUILD_TIME}".encode(),
        b"\x00" * 16,
    )
    image = _new_image(layout)
    image.entrypoint = layout.bootloader_iram
    image.segments = [
        ELFSection(b".dram0.bootdesc", layout.bootloader_dram, desc + marker, flags=0),
        ELFSection(b".iram0.text", layout.bootloader_iram, _filler(marker), flags=0),
    ]
    return _save(image)


def build_sim_ief(chip: ChipType, kind: IefKind, version: str = SIM_APP_VERSION) -> bytes:
    """An app image for the factory partition: a flash-mapped DROM segment with the app description and
    marker, and IRAM code. Padded (secure_pad "2") so that, once signed, all mapped flash is verified.

    `version` goes into the app description, as `git describe` does for an ESP-IDF build: a firmware
    update of the simulation is the same behaviour under a new version, which the board then reports."""
    layout = _LAYOUTS[chip]
    marker = SimImageMarker(ImageKind.IEF, kind.value, chip).encode()
    app_desc = struct.pack(
        "<II8s32s32s16s16s32s32sHHB3s72s",
        _APP_DESC_MAGIC,
        0,
        b"\x00" * 8,
        version.encode(),
        f"sim-ief-{kind.value}".encode(),
        SIM_BUILD_TIME.encode(),
        SIM_BUILD_DATE.encode(),
        SIM_IDF_VERSION.encode(),
        hashlib.sha256(marker).digest(),
        0,
        99,
        0,
        b"\x00" * 3,
        b"\x00" * 72,
    )
    image = _new_image(layout)
    image.entrypoint = layout.app_iram
    image.secure_pad = "2"
    image.segments = [
        ELFSection(b".flash.appdesc", layout.app_drom, app_desc + marker, flags=0),
        ELFSection(b".iram0.text", layout.app_iram, _filler(marker), flags=0),
    ]
    return _save(image)


def app_version(data: bytes) -> str | None:
    """The version in an app image's description (the first segment of an ESP-IDF app), else None."""
    segments = _segment_data(data)
    if not segments or len(segments[0]) < 48:
        return None
    magic, _secure, _reserved, version = struct.unpack_from("<II8s32s", segments[0])
    if magic != _APP_DESC_MAGIC:
        return None
    return version.split(b"\x00", 1)[0].decode("ascii", "replace") or None


def build_sim_partition_table(chip: ChipType) -> bytes:
    """The simulation partition table (layout in app.sim.partition_table); the same for every chip."""
    del chip  # every supported chip reads the table at 0x8000 in the same format
    return build_partition_table()


def describe_sim_image(data: bytes) -> SimImageMarker | None:
    """The marker of a simulation image (signed or not, or a flash region starting with one), else None.

    Only the image's segments are searched, so stray bytes after the image cannot pass for a marker.
    """
    segments = _segment_data(data)
    for segment in segments:
        start = segment.find(MARKER_PREFIX)
        if start < 0:
            continue
        end = segment.find(b"\x00", start)
        text = segment[start + len(MARKER_PREFIX) : end if end >= 0 else len(segment)]
        parts = text.decode("ascii", "replace").split(":")
        if len(parts) != 3:
            return None
        try:
            marker = SimImageMarker(ImageKind(parts[0]), parts[1], ChipType(parts[2]))
            if marker.kind is ImageKind.BOOTLOADER:
                BootloaderKind(marker.variant)
            elif marker.kind is ImageKind.IEF:
                IefKind(marker.variant)
            else:
                return None
        except ValueError:
            return None
        return marker
    return None


def _new_image(layout: _ChipLayout) -> ESP32FirmwareImage:
    image = layout.image_class()
    image.flash_mode = FLASH_MODE_DIO
    image.flash_size_freq = FLASH_SIZE_FREQ_4MB_40M
    image.min_rev = layout.min_rev_full // 100
    image.min_rev_full = layout.min_rev_full
    image.max_rev_full = layout.max_rev_full
    return image


def _save(image: ESP32FirmwareImage) -> bytes:
    data = image.save(None)
    assert isinstance(data, bytes)
    return data


def _filler(marker: bytes) -> bytes:
    """Deterministic stand-in for machine code, different per image so images differ throughout."""
    out = bytearray()
    block = hashlib.sha256(marker).digest()
    while len(out) < _CODE_SIZE:
        out += block
        block = hashlib.sha256(block).digest()
    return bytes(out[:_CODE_SIZE])


_HEADER_LEN = 24
_SEGMENT_HEADER = struct.Struct("<II")
_MAX_SEGMENTS = 16


def _segment_data(data: bytes) -> list[bytes]:
    """Segment payloads of an ESP image, without trusting any length beyond the data given."""
    if len(data) < _HEADER_LEN or data[0] != 0xE9:
        return []
    count = data[1]
    if count > _MAX_SEGMENTS:
        return []
    pos = _HEADER_LEN
    segments = []
    for _ in range(count):
        if pos + _SEGMENT_HEADER.size > len(data):
            break
        _, length = _SEGMENT_HEADER.unpack_from(data, pos)
        pos += _SEGMENT_HEADER.size
        segments.append(data[pos : pos + length])
        pos += length
    return segments
