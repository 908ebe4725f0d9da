"""What a chip's eFuses say about its security, read before anything is written to it.

The checks before flashing (flash_checks.py) are pure functions over `ChipSecurityState`, so they are
tested without a board; this module fills the state from a connected esptool loader. Secure Boot V2
key digests are read straight from the key blocks (they are never read-protected): a chip that holds
a digest only boots images signed by that key, whatever the station would like to write.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from app.domain.chips import ChipType

SECURE_BOOT_DIGEST_PURPOSES = ("SECURE_BOOT_DIGEST0", "SECURE_BOOT_DIGEST1", "SECURE_BOOT_DIGEST2")
ESP32_BLOCK2_PURPOSE = "SECURE_BOOT_V2_DIGEST (BLOCK2)"
_WORDS_PER_KEY_BLOCK = 8
_KEY_BLOCKS = 6

# Read address of eFuse BLOCK_KEY0; the next key blocks follow every 0x20 bytes (espefuse's tables).
KEY_BLOCK0_READ_ADDRESS: dict[ChipType, int] = {
    ChipType.ESP32C3: 0x6000889C,
    ChipType.ESP32S2: 0x3F41A09C,
    ChipType.ESP32S3: 0x6000709C,
}
ESP32_BLOCK2_READ_ADDRESS = 0x3FF5A058


@dataclass(frozen=True)
class ChipSecurityState:
    """Security facts of one chip. `key_digests` are hex Secure Boot V2 digests burned in eFuse."""

    secure_boot_enabled: bool
    flash_encryption_enabled: bool
    secure_download_mode: bool = False
    key_digests: tuple[str, ...] = ()
    key_purposes: tuple[str, ...] = ()
    digests_known: bool = True  # False when the chip does not let us read them (secure download mode)

    @property
    def release_state(self) -> bool:
        """A chip with Secure Boot on runs only signed images: it has had a release bootloader."""
        return self.secure_boot_enabled

    @property
    def holds_key_digest(self) -> bool:
        return bool(self.key_digests)

    @property
    def has_digest_purpose(self) -> bool:
        """Some key block is set aside for a Secure Boot digest (even if we could not read it)."""
        return any(p in SECURE_BOOT_DIGEST_PURPOSES or p == ESP32_BLOCK2_PURPOSE for p in self.key_purposes)


def key_block_address(chip: ChipType, block: int) -> int:
    return KEY_BLOCK0_READ_ADDRESS[chip] + block * _WORDS_PER_KEY_BLOCK * 4


def read_security_state(esp: Any, chip: ChipType) -> ChipSecurityState:
    """Read the state from a connected loader (ROM or stub). `esp` is an esptool ESPLoader."""
    if getattr(esp, "secure_download_mode", False):
        return _from_security_info(esp)
    secure_boot = bool(esp.get_secure_boot_enabled())
    encrypted = bool(esp.get_flash_encryption_enabled())
    if chip is ChipType.ESP32:
        digest = _read_digest(esp, ESP32_BLOCK2_READ_ADDRESS)
        digests = (digest,) if digest is not None else ()
        purposes = (ESP32_BLOCK2_PURPOSE,) if digests else ()
        return ChipSecurityState(secure_boot, encrypted, False, digests, purposes)
    names: dict[int, str] = dict(getattr(esp, "KEY_PURPOSES", {}))
    purposes_list: list[str] = []
    digest_list: list[str] = []
    readable = True
    for block in range(_KEY_BLOCKS):
        code = int(esp.get_key_block_purpose(block))
        purpose = names.get(code, f"purpose {code}")
        purposes_list.append(purpose)
        if purpose in SECURE_BOOT_DIGEST_PURPOSES:
            digest = _read_digest(esp, key_block_address(chip, block))
            if digest is None:
                readable = False  # a digest block that reads as zeros: we cannot trust what we see
            else:
                digest_list.append(digest)
    return ChipSecurityState(
        secure_boot, encrypted, False, tuple(digest_list), tuple(purposes_list), digests_known=readable
    )


def _read_digest(esp: Any, address: int) -> str | None:
    words = [int(esp.read_reg(address + 4 * i)) for i in range(_WORDS_PER_KEY_BLOCK)]
    raw = struct.pack("<8I", *words)
    return None if raw == bytes(32) else raw.hex()


def _from_security_info(esp: Any) -> ChipSecurityState:
    """Secure download mode forbids register reads; the ROM's security-info answer is all we get."""
    info = esp.get_security_info()
    flags = info["parsed_flags"]
    names: dict[int, str] = dict(getattr(esp, "KEY_PURPOSES", {}))
    purposes = tuple(names.get(int(code), f"purpose {code}") for code in info["key_purposes"][:_KEY_BLOCKS])
    return ChipSecurityState(
        secure_boot_enabled=bool(flags["SECURE_BOOT_EN"]),
        flash_encryption_enabled=bin(int(info["flash_crypt_cnt"])).count("1") % 2 == 1,
        secure_download_mode=True,
        key_purposes=purposes,
        digests_known=False,
    )
