"""The ESP partition table binary: building the simulation table and reading any table back.

The format is ESP-IDF's: 32-byte entries starting with the magic 0xAA 0x50, then one MD5 entry
(0xEB 0xEB, 14 bytes 0xFF, the MD5 of the entries before it), the rest of the 0xC00-byte area 0xFF.
The virtual board parses what is in its flash with `parse_partition_table`, so a table built by anyone
(gen_esp32part, the instance, these helpers) is judged by the same rules as on a real chip.

Simulation layout (flash offsets, 4 MiB flash):

    nvs       data/nvs       0x9000   0x6000
    phy_init  data/phy       0xF000   0x1000
    factory   app/factory    0x10000  0x100000   (FACTORY_APP_OFFSET, the IEF)
    efuse_em  data/efuse     0x110000 0x2000     (virtual eFuses of a veFuse build)
    otadata   data/ota       0x112000 0x2000     (which app slot boots: `app.sim.ota`)
    ota_0     app/ota_0      0x120000 0x100000   (a firmware update is written here)
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from app.domain.chips import FACTORY_APP_OFFSET, PARTITION_TABLE_OFFSET
from app.domain.errors import ValidationError

TABLE_AREA_SIZE = 0xC00
ENTRY_SIZE = 32
ENTRY_MAGIC = b"\xaa\x50"
MD5_MAGIC = b"\xeb\xeb"
_ENTRY = struct.Struct("<2sBBII16sI")

TYPE_APP = 0x00
TYPE_DATA = 0x01
SUBTYPE_FACTORY = 0x00
SUBTYPE_OTA_0 = 0x10
SUBTYPE_OTADATA = 0x00
SUBTYPE_NVS = 0x02
SUBTYPE_PHY = 0x01
SUBTYPE_EFUSE = 0x05

NVS_OFFSET, NVS_SIZE = 0x9000, 0x6000
PHY_OFFSET, PHY_SIZE = 0xF000, 0x1000
FACTORY_SIZE = 0x100000
EFUSE_EM_OFFSET, EFUSE_EM_SIZE = FACTORY_APP_OFFSET + FACTORY_SIZE, 0x2000
OTADATA_OFFSET, OTADATA_SIZE = EFUSE_EM_OFFSET + EFUSE_EM_SIZE, 0x2000
OTA_0_OFFSET, OTA_0_SIZE = 0x120000, 0x100000
SIM_FLASH_SIZE = 4 * 1024 * 1024


@dataclass(frozen=True)
class Partition:
    """One entry of a partition table."""

    name: str
    type: int
    subtype: int
    offset: int
    size: int
    flags: int = 0

    @property
    def end(self) -> int:
        return self.offset + self.size


SIM_PARTITIONS: tuple[Partition, ...] = (
    Partition("nvs", TYPE_DATA, SUBTYPE_NVS, NVS_OFFSET, NVS_SIZE),
    Partition("phy_init", TYPE_DATA, SUBTYPE_PHY, PHY_OFFSET, PHY_SIZE),
    Partition("factory", TYPE_APP, SUBTYPE_FACTORY, FACTORY_APP_OFFSET, FACTORY_SIZE),
    Partition("efuse_em", TYPE_DATA, SUBTYPE_EFUSE, EFUSE_EM_OFFSET, EFUSE_EM_SIZE),
    Partition("otadata", TYPE_DATA, SUBTYPE_OTADATA, OTADATA_OFFSET, OTADATA_SIZE),
    Partition("ota_0", TYPE_APP, SUBTYPE_OTA_0, OTA_0_OFFSET, OTA_0_SIZE),
)


def build_partition_table(partitions: tuple[Partition, ...] = SIM_PARTITIONS) -> bytes:
    """Encode `partitions` as the 0xC00-byte binary a bootloader reads at 0x8000."""
    body = b"".join(
        _ENTRY.pack(ENTRY_MAGIC, p.type, p.subtype, p.offset, p.size, p.name.encode("ascii"), p.flags)
        for p in partitions
    )
    body += MD5_MAGIC + b"\xff" * 14 + hashlib.md5(body).digest()  # noqa: S324 - the format's checksum
    if len(body) > TABLE_AREA_SIZE:
        raise ValidationError(f"a partition table holds at most {TABLE_AREA_SIZE // ENTRY_SIZE - 2} entries")
    return body + b"\xff" * (TABLE_AREA_SIZE - len(body))


class PartitionTableError(ValidationError):
    """The bytes at the partition-table offset are not a valid table."""


def parse_partition_table(data: bytes) -> tuple[Partition, ...]:
    """Read a table as the second-stage bootloader does: entries up to the MD5 entry, MD5 checked.

    A table without an MD5 entry is accepted (gen_esp32part --disable-md5sum), as ESP-IDF does.
    """
    partitions: list[Partition] = []
    area = data[:TABLE_AREA_SIZE]
    for pos in range(0, len(area) - ENTRY_SIZE + 1, ENTRY_SIZE):
        raw = area[pos : pos + ENTRY_SIZE]
        if raw[:2] == MD5_MAGIC:
            expected = hashlib.md5(area[:pos]).digest()  # noqa: S324 - the format's checksum
            if raw[16:] != expected:
                raise PartitionTableError(
                    f"partition table at {PARTITION_TABLE_OFFSET:#x}: MD5 does not match its entries"
                )
            break
        if raw == b"\xff" * ENTRY_SIZE:
            break
        if raw[:2] != ENTRY_MAGIC:
            raise PartitionTableError(
                f"partition table at {PARTITION_TABLE_OFFSET:#x}: entry {pos // ENTRY_SIZE} has bad magic "
                f"{raw[:2].hex()}"
            )
        _, ptype, subtype, offset, size, name, flags = _ENTRY.unpack(raw)
        partitions.append(
            Partition(name.rstrip(b"\x00").decode("ascii", "replace"), ptype, subtype, offset, size, flags)
        )
    if not partitions:
        raise PartitionTableError(f"no partition table at {PARTITION_TABLE_OFFSET:#x}")
    return tuple(partitions)


def find_partition(partitions: tuple[Partition, ...], ptype: int, subtype: int) -> Partition | None:
    return next((p for p in partitions if p.type == ptype and p.subtype == subtype), None)
