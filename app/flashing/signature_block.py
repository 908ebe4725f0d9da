"""Secure Boot V2 signature sectors appended to a signed bootloader or app image.

A signed image is the plain image padded with 0xFF to a 4 KiB boundary, followed by one 4 KiB sector
holding up to three 1216-byte signature blocks. We read them here (not with espsecure) so a bad block
becomes a message a person can act on, and so the key digest each block carries can be compared with the
digest burned into a chip's eFuses before anything is written.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass

from app.domain.errors import ValidationError

SECTOR_SIZE = 4096
SIG_BLOCK_SIZE = 1216
SIG_BLOCK_MAGIC = 0xE7
MAX_SIG_BLOCKS = 3
_VERSION_RSA = 0x02
_VERSION_ECDSA = 0x03
_CRC_SPAN = 1196  # the CRC32 covers the block up to itself; 16 zero bytes follow it
_ECDSA_SHA384 = 0x01


@dataclass(frozen=True)
class SignatureBlock:
    """One signature block: which scheme signed it and the digest of the public key that did."""

    index: int
    scheme: str  # "rsa-3072" or "ecdsa"
    key_digest_hex: str


def align_up(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


def read_signature_sector(data: bytes, sector_offset: int) -> tuple[SignatureBlock, ...]:
    """Parse the signature blocks at `sector_offset`; each must cover `data[:sector_offset]`.

    The caller has already seen the 0xE7 magic at `sector_offset`. Later blocks are optional: the
    first slot that does not start with the magic ends the list (the rest of the sector is 0xFF).
    """
    covered = data[:sector_offset]
    blocks: list[SignatureBlock] = []
    for index in range(MAX_SIG_BLOCKS):
        start = sector_offset + index * SIG_BLOCK_SIZE
        block = data[start : start + SIG_BLOCK_SIZE]
        if not block or block[0] != SIG_BLOCK_MAGIC:
            break
        blocks.append(_read_block(block, index + 1, start, covered))
    return tuple(blocks)


def _read_block(block: bytes, number: int, offset: int, covered: bytes) -> SignatureBlock:
    where = f"Secure Boot V2 signature block {number} (offset {offset:#x})"
    if len(block) < SIG_BLOCK_SIZE:
        raise ValidationError(
            f"{where} is cut short: {len(block)} of {SIG_BLOCK_SIZE} bytes present; the file is truncated"
        )
    stored_crc = int.from_bytes(block[_CRC_SPAN : _CRC_SPAN + 4], "little")
    computed_crc = zlib.crc32(block[:_CRC_SPAN]) & 0xFFFFFFFF
    if stored_crc != computed_crc:
        raise ValidationError(
            f"{where} is corrupt: its CRC32 says {stored_crc:#010x}, computed {computed_crc:#010x}"
        )
    version = block[1]
    if version == _VERSION_RSA:
        digest, scheme = hashlib.sha256(covered).digest(), "rsa-3072"
        stored_digest, key_part = block[4:36], block[36:812]
    elif version == _VERSION_ECDSA:
        scheme = "ecdsa"
        if block[2] == _ECDSA_SHA384:
            digest, stored_digest, key_part = hashlib.sha384(covered).digest(), block[4:52], block[52:149]
        else:
            digest, stored_digest, key_part = hashlib.sha256(covered).digest(), block[4:36], block[36:101]
    else:
        raise ValidationError(
            f"{where} has version {version:#04x}; Secure Boot V2 uses 0x02 (RSA) or 0x03 (ECDSA)"
        )
    if stored_digest != digest:
        raise ValidationError(
            f"{where} signs a different image: it carries digest {stored_digest.hex()}, "
            f"the image before it hashes to {digest.hex()}"
        )
    return SignatureBlock(number, scheme, hashlib.sha256(key_part).hexdigest())
