"""Image builders for the flashing tests: real ESP images made with esptool, signed with espsecure."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import espsecure
from esptool.bin_image import ELFSection, ESP32C3FirmwareImage, ESP32FirmwareImage

IRAM_C3 = 0x40380000
DROM_C3 = 0x3C000020


def build_app(
    payload: bytes = bytes(range(256)) * 16,
    image_cls: type[ESP32FirmwareImage] = ESP32C3FirmwareImage,
    append_digest: bool = True,
) -> bytes:
    """A valid app image: flash-mapped rodata and one IRAM segment, as esptool writes it (checksum,
    optional SHA-256)."""
    return _build(payload, image_cls, append_digest, mapped=True)


def build_bootloader(payload: bytes = bytes(range(256)) * 16, append_digest: bool = True) -> bytes:
    """A valid bootloader image: one IRAM segment and nothing mapped from flash."""
    return _build(payload, ESP32C3FirmwareImage, append_digest, mapped=False)


def _build(payload: bytes, image_cls: type[ESP32FirmwareImage], append_digest: bool, mapped: bool) -> bytes:
    image = image_cls()
    image.entrypoint = IRAM_C3
    image.flash_mode = 2
    image.flash_size_freq = 0x1F
    image.append_digest = append_digest
    image.segments = [ELFSection(b".iram0.text", IRAM_C3, payload, flags=0)]
    if mapped:
        image.segments.insert(0, ELFSection(b".flash.rodata", DROM_C3, b"rodata\x00\x00", flags=0))
    data: bytes = image.save(None)
    return data


def build_partition_table(
    entries: list[tuple[str, int, int, int, int]], md5: bool = True, area: int = 0xC00
) -> bytes:
    """ESP-IDF binary table from (label, type, subtype, offset, size) rows."""
    body = b"".join(
        struct.pack("<2sBBII16sI", b"\xaa\x50", t, st, off, size, label.encode(), 0)
        for label, t, st, off, size in entries
    )
    if md5:
        body += b"\xeb\xeb" + b"\xff" * 14 + hashlib.md5(body, usedforsecurity=False).digest()
    return body + b"\xff" * (area - len(body))


STANDARD_TABLE = [
    ("nvs", 1, 2, 0x9000, 0x6000),
    ("phy_init", 1, 1, 0xF000, 0x1000),
    ("factory", 0, 0, 0x10000, 0x100000),
]


def sign_with(key: Path, data: bytes, tmp: Path) -> bytes:
    src, out = tmp / "unsigned.bin", tmp / "signed.bin"
    src.write_bytes(data)
    with key.open("rb") as key_fh, src.open("rb") as data_fh:
        espsecure.sign_data("2", [key_fh], str(out), False, False, None, [], [], data_fh)
    return out.read_bytes()


def key_digest_hex(key: Path) -> str:
    with key.open("rb") as fh:
        digest: bytes = espsecure._digest_sbv2_public_key(fh)
    return digest.hex()
