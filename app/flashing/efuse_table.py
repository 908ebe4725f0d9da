"""The eFuse table: the chip's real eFuses through espefuse as a library, and a veFuse build's virtual ones
beside them.

The real column is espefuse's own `summary` (the code Espressif's tool runs), so a field means here what
it means in ESP-IDF's documentation. The virtual column holds the fields a dev bootloader keeps in
`efuse_em`; every other field of a veFuse build is the chip's own, so it shows the real value. A row
whose two values differ is marked: that is where a dev board's behaviour departs from its silicon.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from app.domain.chips import ChipType
from app.flashing.board_connection import BoardConnection
from app.flashing.vefuse_partition import VirtualEfuses, VirtualEfuseStatus

_KEY_BLOCKS = 6
# espefuse's key-purpose name for Secure Boot digest i, which the dev bootloader writes to key block i.
_DIGEST_PURPOSES = ("SECURE_BOOT_DIGEST0", "SECURE_BOOT_DIGEST1", "SECURE_BOOT_DIGEST2")


@dataclass(frozen=True)
class EfuseRow:
    name: str
    block: str
    category: str
    description: str
    real: str
    virtual: str | None = None  # None: not a veFuse build, or virtual eFuses not asked for

    @property
    def differs(self) -> bool:
        return self.virtual is not None and self.virtual != self.real


def read_real_efuses(board: BoardConnection) -> list[EfuseRow]:
    """Every eFuse field espefuse knows for this chip, as its `summary --format json` gives them."""
    import espefuse.efuse_interface as espefuse  # after esptool_runtime: our logger is installed

    with board.step("reading the eFuses"), tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "summary.json"
        commands = espefuse.init_commands(esp=board.loader, do_not_confirm=True)
        with out.open("w", encoding="utf-8") as fh:  # summary() wants a file with a name
            commands.summary(format="json", file=fh)
        fields = json.loads(out.read_text(encoding="utf-8"))
    return [
        EfuseRow(
            name=name,
            block=f"BLOCK{field.get('block', '?')}",
            category=str(field.get("category", "")),
            description=str(field.get("description", "")),
            real=_text(field.get("value")),
        )
        for name, field in fields.items()
    ]


def with_virtual(rows: list[EfuseRow], chip: ChipType, virtual: VirtualEfuses) -> list[EfuseRow]:
    """Fill the virtual column: the fields a dev build keeps in efuse_em, the real value elsewhere."""
    values = _virtual_values(chip, virtual)
    return [
        EfuseRow(r.name, r.block, r.category, r.description, r.real, values.get(r.name, r.real)) for r in rows
    ]


def _virtual_values(chip: ChipType, v: VirtualEfuses) -> dict[str, str]:
    blank = v.status is not VirtualEfuseStatus.PRESENT
    if chip is ChipType.ESP32:
        values = {
            "ABS_DONE_1": _text(v.secure_boot_enabled),
            "JTAG_DISABLE": _text(v.jtag_disabled),
            "DISABLE_DL_CACHE": _text(v.download_cache_disabled),
            "FLASH_CRYPT_CNT": _text(v.flash_crypt_cnt),
            "BLOCK2": _digest_text(v.key_digests[0] if v.key_digests else None),
        }
        return values
    values = {
        "SECURE_BOOT_EN": _text(v.secure_boot_enabled),
        "SPI_BOOT_CRYPT_CNT": "Enable" if v.flash_encryption_enabled else "Disable",
        "ENABLE_SECURITY_DOWNLOAD": _text(v.secure_download),
        "DIS_DOWNLOAD_ICACHE": _text(v.download_cache_disabled),
    }
    values["HARD_DIS_JTAG" if chip is ChipType.ESP32S2 else "DIS_PAD_JTAG"] = _text(v.jtag_disabled)
    if chip is not ChipType.ESP32C3:
        values["DIS_DOWNLOAD_DCACHE"] = _text(v.download_cache_disabled)
    for block in range(_KEY_BLOCKS):
        digest = v.key_digests[block] if block < len(v.key_digests) and not blank else None
        values[f"KEY_PURPOSE_{block}"] = _DIGEST_PURPOSES[block] if digest is not None else "USER"
        values[f"BLOCK_KEY{block}"] = _digest_text(digest)
    return values


def _digest_text(digest: str | None) -> str:
    raw = bytes.fromhex(digest) if digest is not None else bytes(32)
    return raw.hex(" ")


def _text(value: object) -> str:
    return str(value)
