"""Reading an ESP image out of flash the way the boot ROM and second-stage bootloader do.

Written from the documented format (ESP-IDF "App Image Format"), not from esptool, so the simulator
judges images independently of the tools that make them: 8-byte header (magic 0xE9, segment count,
flash mode, size/frequency, entry), 16-byte extended header (chip id, revisions, hash-appended flag),
segments (load address, length, data), a one-byte XOR checksum (seed 0xEF) at the end of a 16-byte
line, then optionally the SHA-256 of everything before it.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

IMAGE_MAGIC = 0xE9
CHECKSUM_SEED = 0xEF
HEADER_LEN = 24
SEGMENT_HEADER = struct.Struct("<II")
MAX_SEGMENTS = 16
SECTOR = 0x1000


class ImageError(Exception):
    """The image is not bootable. `rom_text` is what the boot code prints about it."""

    def __init__(self, rom_text: str, reason: str) -> None:
        super().__init__(reason)
        self.rom_text = rom_text
        self.reason = reason


@dataclass(frozen=True)
class Segment:
    load_addr: int
    file_offset: int  # of the data, after the 8-byte segment header
    data: bytes


@dataclass(frozen=True)
class EspImage:
    entry: int
    flash_mode: int
    flash_size_freq: int
    chip_id: int
    min_rev_full: int
    max_rev_full: int
    segments: tuple[Segment, ...]
    checksum: int
    hash_appended: bool
    length: int  # bytes up to and including the SHA-256 (or the checksum line)

    @property
    def signed_length(self) -> int:
        """Where a Secure Boot V2 signature sector starts: the image rounded up to a 4 KiB sector."""
        return (self.length + SECTOR - 1) // SECTOR * SECTOR


def read_image(flash: bytes, offset: int, limit: int) -> EspImage:
    """Parse and check the image at `offset`, not reading past `offset + limit`.

    Raises ImageError with ROM-style text for a bad magic, a segment running past the limit, a bad
    checksum or a bad SHA-256. The chip id is returned, not checked: each caller words that itself.
    """
    end_limit = min(len(flash), offset + limit)
    head = flash[offset : offset + HEADER_LEN]
    if len(head) < HEADER_LEN or head[0] != IMAGE_MAGIC:
        word = int.from_bytes(head[:4].ljust(4, b"\xff"), "little")
        raise ImageError(f"invalid header: 0x{word:08x}", f"no image at {offset:#x} (bad magic)")
    count, flash_mode, size_freq = head[1], head[2], head[3]
    (entry,) = struct.unpack_from("<I", head, 4)
    chip_id, min_rev, min_rev_full, max_rev_full = struct.unpack_from("<HBHH", head, 12)
    del min_rev
    hash_appended = head[23] == 1
    if count == 0 or count > MAX_SEGMENTS:
        raise ImageError(f"invalid segment count {count}", f"image at {offset:#x} has {count} segments")
    pos = offset + HEADER_LEN
    checksum = CHECKSUM_SEED
    segments = []
    for index in range(count):
        if pos + SEGMENT_HEADER.size > end_limit:
            raise ImageError(f"segment {index} header past end", f"image at {offset:#x} is truncated")
        load_addr, length = SEGMENT_HEADER.unpack_from(flash, pos)
        pos += SEGMENT_HEADER.size
        if length > end_limit - pos or length % 4:
            raise ImageError(
                f"invalid segment length 0x{length:x}", f"segment {index} of the image at {offset:#x} is bad"
            )
        data = bytes(flash[pos : pos + length])
        checksum = _xor(data, checksum)
        segments.append(Segment(load_addr, pos, data))
        pos += length
    checksum_pos = pos + (15 - (pos - offset) % 16)
    if checksum_pos >= end_limit:
        raise ImageError("checksum past end of image", f"image at {offset:#x} is truncated")
    stored = flash[checksum_pos]
    if stored != checksum:
        raise ImageError(
            f"Checksum failure. Calculated 0x{checksum:02x} stored 0x{stored:02x}",
            f"image at {offset:#x} has a bad checksum",
        )
    length = checksum_pos + 1 - offset
    if hash_appended:
        digest_end = offset + length + 32
        if digest_end > end_limit:
            raise ImageError("SHA-256 digest past end of image", f"image at {offset:#x} is truncated")
        calculated = hashlib.sha256(flash[offset : offset + length]).digest()
        if calculated != flash[offset + length : digest_end]:
            raise ImageError(
                "SHA-256 comparison failed: image is corrupt", f"image at {offset:#x} fails its SHA-256 check"
            )
        length += 32
    return EspImage(
        entry,
        flash_mode,
        size_freq,
        chip_id,
        min_rev_full,
        max_rev_full,
        tuple(segments),
        stored,
        hash_appended,
        length,
    )


def _xor(data: bytes, state: int) -> int:
    """XOR of all bytes, folded on whole integers (fast for 64 KiB segments)."""
    value = int.from_bytes(data, "little")
    size = len(data)
    while size > 1:
        half = (size + 1) // 2
        value = (value >> (half * 8)) ^ (value & ((1 << (half * 8)) - 1))
        size = half
    return state ^ (value & 0xFF)
