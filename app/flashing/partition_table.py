"""Binary ESP-IDF partition tables: read, check, and find the app partition the IEF goes into.

The table is a run of 32-byte entries (magic 0xAA50), optionally an MD5 entry (0xEBEB) over everything
before it, then an end marker of 0xFF bytes. We check it ourselves because a wrong table flashes fine
and only fails at boot, far from the person who could fix it.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
from dataclasses import dataclass

from app.domain.chips import MAX_FLASH_SIZE, PARTITION_TABLE_OFFSET
from app.domain.errors import ValidationError

ENTRY_SIZE = 32
MAX_TABLE_SIZE = 0xC00
_ENTRY_MAGIC = b"\xaa\x50"
_MD5_MAGIC = b"\xeb\xeb"
_END_MARKER = b"\xff" * ENTRY_SIZE
_ENTRY = struct.Struct("<2sBBII16sI")
APP_TYPE = 0x00
DATA_TYPE = 0x01
OTA_DATA_SUBTYPE = 0x00
FIRST_PARTITION_OFFSET = PARTITION_TABLE_OFFSET + 0x1000
"""Below this are the bootloader and the partition table's own 4 KiB sector (ESP-IDF's rule too)."""


@dataclass(frozen=True)
class PartitionEntry:
    label: str
    type: int
    subtype: int
    offset: int
    size: int
    flags: int

    @property
    def is_app(self) -> bool:
        return self.type == APP_TYPE


@dataclass(frozen=True)
class PartitionTable:
    entries: tuple[PartitionEntry, ...]
    has_md5: bool

    def ota_data(self) -> PartitionEntry | None:
        """The `otadata` partition (data, subtype ota), which says which OTA slot the bootloader boots."""
        return next((e for e in self.entries if e.type == DATA_TYPE and e.subtype == OTA_DATA_SUBTYPE), None)

    def app_at(self, offset: int) -> PartitionEntry | None:
        for entry in self.entries:
            if entry.is_app and entry.offset == offset:
                return entry
        return None


def parse_partition_table(data: bytes) -> PartitionTable:
    """Read every entry up to the end marker; raise ValidationError naming the first bad entry."""
    entries: list[PartitionEntry] = []
    has_md5 = False
    for position in range(0, min(len(data), MAX_TABLE_SIZE), ENTRY_SIZE):
        raw = data[position : position + ENTRY_SIZE]
        number = position // ENTRY_SIZE + 1
        if raw == _END_MARKER:
            return _finish(entries, has_md5)
        if len(raw) < ENTRY_SIZE:
            raise ValidationError(
                f"partition table entry {number} at offset {position:#x} is cut short "
                f"({len(raw)} of {ENTRY_SIZE} bytes) and no end marker (32 bytes of 0xFF) came before it"
            )
        if raw[:2] == _MD5_MAGIC:
            _check_md5(data, position, number)
            has_md5 = True
            continue
        if raw[:2] != _ENTRY_MAGIC:
            what = "the first entry" if number == 1 else f"entry {number} at offset {position:#x}"
            raise ValidationError(
                f"not a partition table: {what} starts with 0x{raw[0]:02X}{raw[1]:02X} "
                f"(expected 0xAA50 for an entry, 0xEBEB for the MD5 entry or 0xFF.. for the end)"
            )
        if has_md5:
            raise ValidationError(
                f"partition table entry {number} comes after the MD5 entry; the MD5 entry must be last"
            )
        entries.append(_entry(raw, number))
    raise ValidationError(
        f"partition table has no end marker (32 bytes of 0xFF) within its first {MAX_TABLE_SIZE:#x} bytes"
    )


def _entry(raw: bytes, number: int) -> PartitionEntry:
    _magic, ptype, subtype, offset, size, label_raw, flags = _ENTRY.unpack(raw)
    label = label_raw.split(b"\x00", 1)[0].decode("ascii", errors="replace")
    if size == 0:
        raise ValidationError(f"partition table entry {number} ({label!r}) has size 0")
    if offset < FIRST_PARTITION_OFFSET:
        raise ValidationError(
            f"partition {label!r} (entry {number}) starts at {offset:#x}, over the bootloader and the "
            f"partition table, which fill the flash below {FIRST_PARTITION_OFFSET:#x}"
        )
    check_fits_flash(PartitionEntry(label, ptype, subtype, offset, size, flags), MAX_FLASH_SIZE)
    return PartitionEntry(label, ptype, subtype, offset, size, flags)


def check_fits_flash(entry: PartitionEntry, flash_size: int, whose: str = "the largest flash") -> None:
    """Refuse a partition that ends past the flash: the bootloader would refuse the whole table."""
    end = entry.offset + entry.size
    if end > flash_size:
        raise ValidationError(
            f"partition {entry.label!r} ends at {end:#x}, past the end of {whose} "
            f"({flash_size // (1 << 20)} MiB, {flash_size:#x})"
        )


def _check_md5(data: bytes, position: int, number: int) -> None:
    stored = data[position + 16 : position + ENTRY_SIZE]
    computed = hashlib.md5(data[:position], usedforsecurity=False).digest()
    if stored != computed:
        raise ValidationError(
            f"partition table MD5 mismatch (entry {number}): the table says {stored.hex()}, "
            f"computed {computed.hex()}; the table was changed after it was generated"
        )


def _finish(entries: list[PartitionEntry], has_md5: bool) -> PartitionTable:
    if not entries:
        raise ValidationError("partition table is empty: the end marker comes before any partition")
    ordered = sorted(entries, key=lambda e: e.offset)
    for before, after in itertools.pairwise(ordered):
        if before.offset + before.size > after.offset:
            raise ValidationError(
                f"partitions {before.label!r} ({before.offset:#x}..{before.offset + before.size:#x}) and "
                f"{after.label!r} (from {after.offset:#x}) overlap"
            )
    return PartitionTable(tuple(entries), has_md5)
