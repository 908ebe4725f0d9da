"""A virtual board's eFuses: the few fields that provisioning depends on, one-way like the real ones.

Two homes, as on real boards:
- "real" eFuses (release builds) live in the board's state folder (`efuses.json`) and can never be
  cleared: erasing flash does not touch them;
- virtual eFuses (veFuse builds, ESP-IDF's "keep in flash" mode) live in the flash `efuse_em` partition,
  so erasing that partition or the whole flash returns the board to blank.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

from app.domain.chips import ChipType
from app.domain.errors import ConflictError
from app.system.private_files import write_private

VIRTUAL_MAGIC = b"QLVEFUSE"
_VIRTUAL_HEADER = struct.Struct("<8sI")
PURPOSE_SECURE_BOOT_DIGEST0 = 9


def digest_slots(chip: ChipType) -> int:
    """ESP32 (v3) holds one Secure Boot V2 key digest (BLOCK2); later chips three key blocks."""
    return 1 if chip is ChipType.ESP32 else 3


@dataclass(frozen=True)
class EfuseState:
    """The eFuse fields a virtual board models. Burning only ever sets bits, so it is one-way."""

    secure_boot_en: bool = False
    key_digests: tuple[bytes, ...] = ()
    flash_crypt_cnt: int = 0
    jtag_disabled: bool = False
    download_dcache_disabled: bool = False
    secure_download: bool = False  # ENABLE_SECURITY_DOWNLOAD: the ROM loader only writes flash

    @property
    def flash_encrypted(self) -> bool:
        """Flash encryption is on while the crypt counter holds an odd number of set bits."""
        return bin(self.flash_crypt_cnt).count("1") % 2 == 1

    @property
    def blank(self) -> bool:
        return self == EfuseState()

    def key_purposes(self) -> tuple[int, ...]:
        """Purpose of KEY0..KEY5 as GET_SECURITY_INFO reports them (digest i sits in KEY i)."""
        purposes = [PURPOSE_SECURE_BOOT_DIGEST0 + i for i in range(len(self.key_digests))]
        return tuple(purposes + [0] * (6 - len(purposes)))

    def with_secure_boot(self, chip: ChipType, digest: bytes) -> EfuseState:
        """The state after the bootloader burns `digest` and enables secure boot (idempotent)."""
        digests = self.key_digests
        if digest not in digests:
            if len(digests) >= digest_slots(chip):
                raise ConflictError(
                    f"no free eFuse key block left for another {chip.display_name} key digest"
                )
            digests = (*digests, digest)
        return replace(
            self, secure_boot_en=True, key_digests=digests, jtag_disabled=True, download_dcache_disabled=True
        )

    def to_json(self) -> dict[str, object]:
        return {
            "secure_boot_en": self.secure_boot_en,
            "key_digests": [d.hex() for d in self.key_digests],
            "flash_crypt_cnt": self.flash_crypt_cnt,
            "jtag_disabled": self.jtag_disabled,
            "download_dcache_disabled": self.download_dcache_disabled,
            "secure_download": self.secure_download,
        }

    @classmethod
    def from_json(cls, data: object) -> EfuseState:
        if not isinstance(data, dict):
            raise ValueError("eFuse state must be a JSON object")
        digests = tuple(bytes.fromhex(str(d)) for d in data.get("key_digests", []))
        if any(len(d) != 32 for d in digests):
            raise ValueError("a key digest must be 32 bytes")
        return cls(
            secure_boot_en=bool(data.get("secure_boot_en", False)),
            key_digests=digests,
            flash_crypt_cnt=int(data.get("flash_crypt_cnt", 0)),
            jtag_disabled=bool(data.get("jtag_disabled", False)),
            download_dcache_disabled=bool(data.get("download_dcache_disabled", False)),
            secure_download=bool(data.get("secure_download", False)),
        )


class RealEfuses:
    """The board's permanent eFuses, persisted in the state folder on every burn."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self.state = EfuseState()
        if path.exists():
            self.state = EfuseState.from_json(json.loads(path.read_text(encoding="utf-8")))

    def burn(self, new_state: EfuseState) -> None:
        if new_state == self.state:
            return
        self.state = new_state
        data = json.dumps(self.state.to_json(), indent=1).encode("utf-8")
        write_private(self._path, data, what="virtual board eFuses")


def encode_virtual(state: EfuseState) -> bytes:
    """The bytes a veFuse build keeps at the start of its `efuse_em` partition."""
    body = json.dumps(state.to_json(), separators=(",", ":")).encode()
    return _VIRTUAL_HEADER.pack(VIRTUAL_MAGIC, len(body)) + body + struct.pack("<I", zlib.crc32(body))


def decode_virtual(region: bytes) -> EfuseState:
    """Virtual eFuses from an `efuse_em` partition; erased or damaged contents read as blank."""
    if len(region) < _VIRTUAL_HEADER.size or not region.startswith(VIRTUAL_MAGIC):
        return EfuseState()
    _, length = _VIRTUAL_HEADER.unpack_from(region)
    body = region[_VIRTUAL_HEADER.size : _VIRTUAL_HEADER.size + length]
    crc_at = _VIRTUAL_HEADER.size + length
    if len(body) != length or region[crc_at : crc_at + 4] != struct.pack("<I", zlib.crc32(body)):
        return EfuseState()
    try:
        return EfuseState.from_json(json.loads(body))
    except ValueError:
        return EfuseState()
