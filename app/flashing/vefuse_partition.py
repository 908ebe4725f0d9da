"""The virtual eFuses a veFuse (dev) build keeps in its `efuse_em` flash partition, as the station reads them.

A dev bootloader enables Secure Boot in virtual eFuses instead of burning the chip's real ones, and keeps
them in the data partition of subtype `efuse` (0x05). Erasing that partition returns the board to blank
virtual eFuses, which is how a lab board gets a new key; the real eFuses are untouched.

The record the station's simulation bootloader writes: magic `QLVEFUSE`, a little-endian u32 length, that
many bytes of JSON, then a CRC32 of the JSON. Erased flash (all 0xFF) is blank eFuses; anything else that
is not a whole record is reported as unreadable, never guessed at.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from enum import Enum

MAGIC = b"QLVEFUSE"
_HEADER = struct.Struct("<8sI")
EFUSE_SUBTYPE = 0x05
DATA_TYPE = 0x01


class VirtualEfuseStatus(Enum):
    BLANK = "blank"  # erased: the next boot starts from blank virtual eFuses
    PRESENT = "present"
    UNREADABLE = "unreadable"  # something is there, but not a record the station knows


@dataclass(frozen=True)
class VirtualEfuses:
    """What the virtual eFuses say; all False/empty unless status is PRESENT."""

    status: VirtualEfuseStatus
    secure_boot_enabled: bool = False
    key_digests: tuple[str, ...] = ()
    flash_crypt_cnt: int = 0
    jtag_disabled: bool = False
    download_cache_disabled: bool = False
    secure_download: bool = False
    problem: str = ""

    @property
    def flash_encryption_enabled(self) -> bool:
        return bin(self.flash_crypt_cnt).count("1") % 2 == 1


def read_virtual_efuses(region: bytes) -> VirtualEfuses:
    """Decode the start of an `efuse_em` partition."""
    if not region or region.count(0xFF) == len(region):
        return VirtualEfuses(VirtualEfuseStatus.BLANK)
    if len(region) < _HEADER.size or not region.startswith(MAGIC):
        return _unreadable("the partition does not start with a virtual eFuse record")
    _, length = _HEADER.unpack_from(region)
    body = region[_HEADER.size : _HEADER.size + length]
    crc_at = _HEADER.size + length
    if len(body) != length or region[crc_at : crc_at + 4] != struct.pack("<I", zlib.crc32(body)):
        return _unreadable("the virtual eFuse record is cut short or its CRC does not match")
    try:
        data = json.loads(body)
        digests = tuple(bytes.fromhex(str(d)).hex() for d in data.get("key_digests", []))
        return VirtualEfuses(
            VirtualEfuseStatus.PRESENT,
            secure_boot_enabled=bool(data.get("secure_boot_en", False)),
            key_digests=digests,
            flash_crypt_cnt=int(data.get("flash_crypt_cnt", 0)),
            jtag_disabled=bool(data.get("jtag_disabled", False)),
            download_cache_disabled=bool(data.get("download_dcache_disabled", False)),
            secure_download=bool(data.get("secure_download", False)),
        )
    except (ValueError, TypeError, AttributeError):
        return _unreadable("the virtual eFuse record is not the JSON the station expects")


def _unreadable(problem: str) -> VirtualEfuses:
    return VirtualEfuses(VirtualEfuseStatus.UNREADABLE, problem=problem)
