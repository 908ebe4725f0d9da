"""Secure Boot V2 (RSA-3072, RSA-PSS) checks, as the ROM and the second-stage bootloader make them.

The signature sector is the 4 KiB sector right after the image (rounded up to a sector). It holds up
to three 1216-byte signature blocks: magic 0xE7, version 0x02, the SHA-256 of the signed data, the RSA
public key (modulus little-endian, exponent, R^-1 and M' for the hardware), the signature
(little-endian), then a CRC32 of the block. The eFuse holds SHA-256 over the public-key part (bytes
36..812) of a block: the "key digest". Implemented with `cryptography` directly, so the simulator does
not trust espsecure (which signs the images) to also judge them.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

SECTOR = 0x1000
BLOCK_SIZE = 1216
MAX_BLOCKS = 3
BLOCK_MAGIC = 0xE7
VERSION_RSA = 0x02
_KEY_START, _KEY_END = 36, 36 + 776
_SIG_END = _KEY_END + 384
_CRC_END = _SIG_END + 4


@dataclass(frozen=True)
class SignatureCheck:
    """One signature block: whose key signed it, and whether the signature over the image holds."""

    index: int
    key_digest: bytes
    valid: bool
    problem: str = ""


def signature_blocks(flash: bytes, signed_end: int) -> list[SignatureCheck]:
    """Check every well-formed block in the sector at `signed_end` against flash[:signed_end].

    `flash` is the region starting at the image (signed data first). Blocks that are absent
    (erased flash) are skipped; a malformed block is reported with valid=False.
    """
    sector = bytes(flash[signed_end : signed_end + SECTOR])
    if len(sector) < BLOCK_SIZE:
        return []
    image_digest = hashlib.sha256(flash[:signed_end]).digest()
    checks = []
    for index in range(MAX_BLOCKS):
        block = sector[index * BLOCK_SIZE : (index + 1) * BLOCK_SIZE]
        if len(block) < BLOCK_SIZE or block[0] != BLOCK_MAGIC:
            continue
        checks.append(_check_block(index, block, image_digest))
    return checks


def _check_block(index: int, block: bytes, image_digest: bytes) -> SignatureCheck:
    key_digest = hashlib.sha256(block[_KEY_START:_KEY_END]).digest()
    if block[1] != VERSION_RSA:
        return SignatureCheck(
            index, key_digest, False, f"signature block {index} is not RSA (version {block[1]})"
        )
    (crc,) = struct.unpack_from("<I", block, _SIG_END)
    if zlib.crc32(block[:_SIG_END]) & 0xFFFFFFFF != crc:
        return SignatureCheck(index, key_digest, False, f"signature block {index} CRC mismatch")
    if block[4:36] != image_digest:
        return SignatureCheck(index, key_digest, False, f"signature block {index} image digest mismatch")
    modulus = int.from_bytes(block[_KEY_START : _KEY_START + 384], "little")
    (exponent,) = struct.unpack_from("<I", block, _KEY_START + 384)
    signature = block[_KEY_END:_SIG_END][::-1]
    try:
        public_key = rsa.RSAPublicNumbers(exponent, modulus).public_key()
        public_key.verify(
            signature,
            image_digest,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            utils.Prehashed(hashes.SHA256()),
        )
    except (InvalidSignature, ValueError):
        return SignatureCheck(index, key_digest, False, f"signature block {index} does not verify")
    return SignatureCheck(index, key_digest, True)


def verify_against_digests(checks: list[SignatureCheck], digests: list[bytes]) -> SignatureCheck | None:
    """The first valid block signed by a key whose digest is burned in eFuse, or None."""
    allowed = set(digests)
    return next((c for c in checks if c.valid and c.key_digest in allowed), None)


def first_valid(checks: list[SignatureCheck]) -> SignatureCheck | None:
    return next((c for c in checks if c.valid), None)
