"""Check a firmware image before a single byte of it is written to a board.

A wrong image flashes without complaint and fails only at boot (or, with a release bootloader, can brick
a secured chip), so every image is checked here first: ESP image header, chip id, segments, checksum,
appended SHA-256 and any Secure Boot V2 signature sector; partition tables entry by entry. We parse the
format ourselves rather than through esptool.bin_image so that every failure names what is wrong in
words a person can act on, and so the checks esptool skips (chip id, digest, trailing data) are made.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from app.domain.chips import FACTORY_APP_OFFSET, MAX_IMAGE_SIZE, ChipType
from app.domain.errors import ValidationError
from app.domain.kinds import ImageKind
from app.flashing.partition_table import PartitionEntry, parse_partition_table
from app.flashing.signature_block import (
    SECTOR_SIZE,
    SIG_BLOCK_MAGIC,
    SignatureBlock,
    align_up,
    read_signature_sector,
)

ESP_IMAGE_MAGIC = 0xE9
MAX_SEGMENTS = 16
_CHECKSUM_SEED = 0xEF
_HEADER = struct.Struct("<BBBBI")
_EXTENDED = struct.Struct("<BBBBHBHH4sB")
_SEGMENT = struct.Struct("<II")
_HEADERS_LEN = _HEADER.size + _EXTENDED.size
_DIGEST_LEN = 32


@dataclass(frozen=True)
class ImageSummary:
    """What a checked image is. `sha256` covers the whole data as given (it goes into the record)."""

    kind: ImageKind
    chip: ChipType | None
    size: int
    sha256: str
    entry: int = 0
    segments: int = 0
    image_length: int = 0  # the ESP image proper, up to its checksum/digest, before padding
    hash_appended: bool = False
    signed: bool = False
    signatures: tuple[SignatureBlock, ...] = ()
    partitions: tuple[PartitionEntry, ...] = ()

    @property
    def key_digests(self) -> tuple[str, ...]:
        return tuple(block.key_digest_hex for block in self.signatures)


def check_image(
    data: bytes, device_type: ChipType, kind: ImageKind, max_size: int | None = None
) -> ImageSummary:
    """Return a summary of `data` as an image of `kind` for `device_type`, or raise ValidationError."""
    what = kind.value
    if not data:
        raise ValidationError(f"the {what} image is empty (0 bytes)")
    if len(data) > MAX_IMAGE_SIZE:
        raise ValidationError(
            f"the {what} image is {len(data)} bytes ({len(data):#x}); no partition the station writes holds "
            f"more than {MAX_IMAGE_SIZE // (1 << 20)} MiB, so it would overwrite what follows"
        )
    digest = hashlib.sha256(data).hexdigest()
    if kind is ImageKind.PARTITION_TABLE:
        summary = _check_partition_table(data, digest)
    else:
        summary = _check_esp_image(data, device_type, kind, digest)
    if max_size is not None and len(data) > max_size:  # after the format checks: a wrong kind says so
        raise ValidationError(
            f"the {what} image is {len(data)} bytes ({len(data):#x}) but its partition holds only "
            f"{max_size} bytes ({max_size:#x}); it would overwrite what follows"
        )
    return summary


def _check_partition_table(data: bytes, digest: str) -> ImageSummary:
    table = parse_partition_table(data)
    if table.app_at(FACTORY_APP_OFFSET) is None:
        apps = ", ".join(f"{e.label!r} at {e.offset:#x}" for e in table.entries if e.is_app) or "none"
        raise ValidationError(
            f"partition table has no app partition at {FACTORY_APP_OFFSET:#x}, where the IEF is written "
            f"(app partitions: {apps})"
        )
    return ImageSummary(
        kind=ImageKind.PARTITION_TABLE, chip=None, size=len(data), sha256=digest, partitions=table.entries
    )


def _check_esp_image(data: bytes, device_type: ChipType, kind: ImageKind, digest: str) -> ImageSummary:
    if data[0] != ESP_IMAGE_MAGIC:
        raise ValidationError(
            f"not an ESP image: first byte 0x{data[0]:02X} (expected 0x{ESP_IMAGE_MAGIC:02X})"
        )
    if len(data) < _HEADERS_LEN:
        raise ValidationError(
            f"not a complete ESP image: {len(data)} bytes, shorter than its {_HEADERS_LEN}-byte header"
        )
    _magic, segment_count, _mode, _size_freq, entry = _HEADER.unpack_from(data, 0)
    extended = _EXTENDED.unpack_from(data, _HEADER.size)
    chip_id, hash_flag = extended[4], extended[9]
    if not 1 <= segment_count <= MAX_SEGMENTS:
        raise ValidationError(
            f"ESP image header claims {segment_count} segments; a valid image has 1 to {MAX_SEGMENTS}"
        )
    _check_chip(chip_id, device_type)
    if hash_flag not in (0, 1):
        raise ValidationError(
            f"ESP image header has hash-appended flag 0x{hash_flag:02X}; it must be 0 or 1 (corrupt header)"
        )
    end_of_segments, checksum, loads = _walk_segments(data, segment_count)
    _check_kind(kind, loads, device_type)
    image_end = _check_checksum(data, end_of_segments, checksum)
    if hash_flag:
        image_end = _check_appended_digest(data, image_end)
    signatures = _check_trailer(data, image_end)
    return ImageSummary(
        kind=kind,
        chip=device_type,
        size=len(data),
        sha256=digest,
        entry=entry,
        segments=segment_count,
        image_length=image_end,
        hash_appended=bool(hash_flag),
        signed=bool(signatures),
        signatures=signatures,
    )


def _check_chip(chip_id: int, device_type: ChipType) -> None:
    expected = device_type.profile.image_chip_id
    if chip_id == expected:
        return
    found = ChipType.from_image_chip_id(chip_id)
    found_name = found.display_name if found is not None else "an unknown chip"
    raise ValidationError(
        f"image is for {found_name} (chip id {chip_id}), the task needs "
        f"{device_type.display_name} (chip id {expected})"
    )


def _check_kind(kind: ImageKind, loads: list[int], device_type: ChipType) -> None:
    """A bootloader loads only into RAM (the ROM cannot map flash); an ESP-IDF app always has code or
    data mapped from flash. So the load addresses tell a bootloader picked by mistake from an IEF."""
    profile = device_type.profile
    mapped = [(number, address) for number, address in enumerate(loads, 1) if profile.maps_flash(address)]
    if kind is ImageKind.BOOTLOADER and mapped:
        number, address = mapped[0]
        raise ValidationError(
            f"this is an app image, not a bootloader: segment {number} loads at {address:#010x}, memory "
            f"mapped from flash, which only an app uses (the ROM loads a bootloader into RAM); "
            "was the IEF chosen by mistake?"
        )
    if kind is ImageKind.IEF and not mapped:
        raise ValidationError(
            f"this image looks like a bootloader, not an IEF: all {len(loads)} of its segments load into RAM "
            f"and none into memory mapped from flash, which every ESP-IDF app has; "
            "was the bootloader chosen by mistake?"
        )


def _walk_segments(data: bytes, count: int) -> tuple[int, int, list[int]]:
    """Return the offset after the last segment, the XOR checksum of all segment data and every
    segment's load address."""
    position = _HEADERS_LEN
    checksum = _CHECKSUM_SEED
    loads: list[int] = []
    for number in range(1, count + 1):
        if position + _SEGMENT.size > len(data):
            raise ValidationError(
                f"ESP image is truncated: segment {number} of {count} should start at offset "
                f"{position:#x} but the data ends at {len(data):#x}"
            )
        load_address, length = _SEGMENT.unpack_from(data, position)
        start = position + _SEGMENT.size
        if start + length > len(data):
            raise ValidationError(
                f"ESP image is truncated or corrupt: segment {number} of {count} (load address "
                f"{load_address:#010x}) claims {length} bytes from offset {start:#x}, "
                f"past the end of the data at {len(data):#x}"
            )
        checksum ^= xor_of_bytes(data[start : start + length])
        loads.append(load_address)
        position = start + length
    return position, checksum, loads


def _check_checksum(data: bytes, end_of_segments: int, computed: int) -> int:
    """The checksum byte is the last byte of the 16-byte block after the segments."""
    checksum_offset = end_of_segments | 0xF
    if checksum_offset >= len(data):
        raise ValidationError(
            f"ESP image is truncated: its checksum byte belongs at offset {checksum_offset:#x} "
            f"but the data ends at {len(data):#x}"
        )
    stored = data[checksum_offset]
    if stored != computed:
        raise ValidationError(
            f"checksum mismatch: header says 0x{stored:02X}, computed 0x{computed:02X} "
            f"(the image is corrupt or was edited after it was built)"
        )
    return checksum_offset + 1


def _check_appended_digest(data: bytes, image_end: int) -> int:
    stored = data[image_end : image_end + _DIGEST_LEN]
    if len(stored) < _DIGEST_LEN:
        raise ValidationError(
            f"ESP image is truncated: its header promises a SHA-256 digest at offset {image_end:#x}, "
            f"but only {len(stored)} of {_DIGEST_LEN} bytes are there"
        )
    computed = hashlib.sha256(data[:image_end]).digest()
    if stored != computed:
        raise ValidationError(
            f"SHA-256 mismatch: the image carries {stored.hex()}, its content hashes to {computed.hex()} "
            f"(the image is corrupt or was edited after it was built)"
        )
    return image_end + _DIGEST_LEN


def _check_trailer(data: bytes, image_end: int) -> tuple[SignatureBlock, ...]:
    """After the image: nothing, 0xFF padding, or a Secure Boot V2 signature sector at 4 KiB."""
    if image_end == len(data):
        return ()
    sector = align_up(image_end, SECTOR_SIZE)
    if sector < len(data) and data[sector] == SIG_BLOCK_MAGIC:
        blocks = read_signature_sector(data, sector)
        _check_padding(data, sector + SECTOR_SIZE, "after the signature sector")
        return blocks
    _check_padding(data, image_end, "after the end of the image")
    return ()


def _check_padding(data: bytes, start: int, where: str) -> None:
    tail = data[start:]
    if not tail or tail.count(0xFF) == len(tail):
        return
    first = start + next(i for i, b in enumerate(tail) if b != 0xFF)
    raise ValidationError(
        f"unexpected data {where} at offset {first:#x} ({len(data) - start} bytes follow offset "
        f"{start:#x}); expected only 0xFF padding or a Secure Boot V2 signature block (magic 0xE7) at a "
        f"4 KiB boundary. Two files may have been joined"
    )


def xor_of_bytes(data: bytes) -> int:
    """XOR of every byte, done on one big integer so a 1 MiB image costs milliseconds, not a loop."""
    if not data:
        return 0
    value = int.from_bytes(data, "little")
    width = len(data)
    while width > 1:
        half = width // 2
        value = (value & ((1 << (8 * half)) - 1)) ^ (value >> (8 * half))
        width -= half
    return value & 0xFF
