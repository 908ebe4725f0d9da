"""Everything the lab bench can learn about one board in download mode, without changing it.

Identity (chip, revision, MAC, crystal, flash), security state (eFuses), and what kind of build its
flash holds. Release or dev (veFuse) is decided on the strongest evidence there is: burned real Secure
Boot eFuses mean release; else the bootloader says which it is (the simulation images' build marker, or
ESP-IDF's "[Virtual]" eFuse messages, which only a virtual-eFuse bootloader contains); else an `efuse_em`
partition in the table means dev. No partition table is an empty board. Where the
chip does not let us look (secure download mode forbids reads; flash encryption turns reads into
ciphertext) the facts say "unknown" and why, instead of guessing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from enum import Enum
from typing import Any

from app.domain.chips import PARTITION_TABLE_OFFSET, ChipType
from app.domain.errors import ValidationError
from app.flashing.board_connection import BoardConnection
from app.flashing.chip_security import ChipSecurityState, read_security_state
from app.flashing.esptool_runtime import cmds
from app.flashing.partition_table import (
    DATA_TYPE,
    MAX_TABLE_SIZE,
    PartitionEntry,
    parse_partition_table,
)
from app.flashing.vefuse_partition import EFUSE_SUBTYPE, VirtualEfuses, read_virtual_efuses

NVS_SUBTYPE = 0x02
SIM_DEV_MARKER = b"QLSIM1:bootloader:dev:"
SIM_RELEASE_MARKER = b"QLSIM1:bootloader:release:"
IDF_VIRTUAL_EFUSE_TEXT = b"[Virtual]"
VIRTUAL_RECORD_READ = 0x1000  # the virtual eFuse record is small; one sector holds it


class BuildKind(Enum):
    DEV = "dev (veFuse)"
    RELEASE = "release"
    EMPTY = "empty"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class BoardFacts:
    """What `board info` shows. Fields that the chip would not tell us are None."""

    port: str
    chip: ChipType | None
    chip_name: str
    description: str | None
    mac: str | None
    crystal_mhz: int | None
    flash_size: str | None
    flash_id: str | None
    security: ChipSecurityState | None
    build: BuildKind
    build_reason: str
    partitions: tuple[PartitionEntry, ...] = ()
    virtual_efuses: VirtualEfuses | None = None

    @property
    def secure_download(self) -> bool:
        return self.security is not None and self.security.secure_download_mode

    @property
    def flash_encrypted(self) -> bool:
        return self.security is not None and self.security.flash_encryption_enabled

    def partition(self, ptype: int, subtype: int) -> PartitionEntry | None:
        return next((p for p in self.partitions if p.type == ptype and p.subtype == subtype), None)

    @property
    def efuse_em(self) -> PartitionEntry | None:
        return self.partition(DATA_TYPE, EFUSE_SUBTYPE)

    @property
    def nvs(self) -> PartitionEntry | None:
        return self.partition(DATA_TYPE, NVS_SUBTYPE)

    def to_json(self) -> dict[str, Any]:
        security = asdict(self.security) if self.security is not None else None
        return {
            "port": self.port,
            "chip": self.chip.value if self.chip is not None else None,
            "chip_name": self.chip_name,
            "description": self.description,
            "mac": self.mac,
            "crystal_mhz": self.crystal_mhz,
            "flash_size": self.flash_size,
            "flash_id": self.flash_id,
            "security": security,
            "build": self.build.name.lower(),
            "build_reason": self.build_reason,
            "partitions": [asdict(p) for p in self.partitions],
            "virtual_efuses": _virtual_json(self.virtual_efuses),
        }


def _virtual_json(virtual: VirtualEfuses | None) -> dict[str, Any] | None:
    if virtual is None:
        return None
    data = asdict(virtual)
    data["status"] = virtual.status.value
    return data


def read_board_facts(board: BoardConnection) -> BoardFacts:
    """Identify the board on an open connection. Starts the flasher stub when the chip allows it."""
    esp = board.loader
    name = str(esp.CHIP_NAME)
    chip = _chip_type(name)
    if getattr(esp, "secure_download_mode", False):
        with board.step("reading the security info"):
            security = read_security_state(esp, chip) if chip is not None else None
        return BoardFacts(
            board.url, chip, name, None, None, None, None, None, security, BuildKind.UNKNOWN,
            "secure download mode: the ROM answers no flash or register reads",
        )  # fmt: skip
    with board.step("identifying the chip"):
        description = str(esp.get_chip_description())
        mac = ":".join(f"{b:02x}" for b in esp.read_mac())
        crystal = int(esp.get_crystal_freq())
        security = read_security_state(esp, chip) if chip is not None else None
    board.run_stub()
    esp = board.loader
    with board.step("reading the flash chip's ID"):
        flash_id = int(esp.flash_id())
        size = cmds.detect_flash_size(esp)
    maker, device = flash_id & 0xFF, ((flash_id >> 16) & 0xFF) | ((flash_id >> 8) & 0xFF) << 8
    facts = BoardFacts(
        board.url, chip, name, description, mac, crystal, str(size) if size else None,
        f"manufacturer {maker:#04x}, device {device:#06x}", security, BuildKind.UNKNOWN, "",
    )  # fmt: skip
    return _with_build(board, facts)


def _with_build(board: BoardConnection, facts: BoardFacts) -> BoardFacts:
    if facts.flash_encrypted:
        reason = "flash encryption is on: flash reads return ciphertext, so the build cannot be read"
        return replace(facts, build_reason=reason)
    with board.step("reading the partition table"):
        table_bytes = bytes(board.loader.read_flash(PARTITION_TABLE_OFFSET, MAX_TABLE_SIZE))
    if table_bytes.count(0xFF) == len(table_bytes):
        reason = f"no partition table at {PARTITION_TABLE_OFFSET:#x}: nothing has been flashed"
        return replace(facts, build=BuildKind.EMPTY, build_reason=reason)
    try:
        table = parse_partition_table(table_bytes)
    except ValidationError as exc:
        return replace(facts, build_reason=f"the partition table cannot be read: {exc}")
    facts = replace(facts, partitions=table.entries)
    efuse_em = facts.efuse_em
    if facts.security is not None and facts.security.secure_boot_enabled:
        reason = "real Secure Boot eFuses are burned: a release bootloader enabled them for good"
        return replace(facts, build=BuildKind.RELEASE, build_reason=reason)
    kind, reason = _bootloader_kind(board, facts)
    if kind is None:
        kind = BuildKind.DEV if efuse_em is not None else BuildKind.RELEASE
        reason = f"the partition table {'has' if efuse_em else 'has no'} efuse_em partition"
    if kind is not BuildKind.DEV or efuse_em is None:
        return replace(facts, build=kind, build_reason=reason)
    with board.step("reading the virtual eFuses"):
        region = bytes(board.loader.read_flash(efuse_em.offset, min(efuse_em.size, VIRTUAL_RECORD_READ)))
    reason += f"; virtual eFuses in efuse_em at {efuse_em.offset:#x}"
    virtual = read_virtual_efuses(region)
    return replace(facts, build=BuildKind.DEV, build_reason=reason, virtual_efuses=virtual)


def _bootloader_kind(board: BoardConnection, facts: BoardFacts) -> tuple[BuildKind | None, str]:
    if facts.chip is None:
        return None, ""
    start = facts.chip.bootloader_offset
    with board.step("reading the bootloader"):
        region = bytes(board.loader.read_flash(start, PARTITION_TABLE_OFFSET - start))
    if SIM_DEV_MARKER in region:
        return BuildKind.DEV, "the bootloader is a dev (virtual eFuse) build"
    if SIM_RELEASE_MARKER in region:
        return BuildKind.RELEASE, "the bootloader is a release build"
    if IDF_VIRTUAL_EFUSE_TEXT in region:
        return BuildKind.DEV, "the bootloader was built with virtual eFuses"
    return None, ""


def _chip_type(esptool_name: str) -> ChipType | None:
    try:
        return ChipType.parse(esptool_name)
    except ValidationError:
        return None
