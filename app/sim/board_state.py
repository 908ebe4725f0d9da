"""Where a virtual board keeps itself: one folder holding its identity, flash and permanent eFuses.

    board.json    chip and MAC (fixed when the folder is first used)
    flash.bin     the SPI flash, 4 MiB
    efuses.json   the "real" eFuses (absent until something is burned)

A board "unplugged" and re-attached with the same folder is the same board; an empty folder is a
factory-new one. The MAC is random (locally administered, 02:51:xx:xx:xx:xx) and stays with the folder.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from app.domain.chips import ChipType
from app.domain.errors import ConflictError, ValidationError
from app.sim.efuses import EfuseState, RealEfuses
from app.sim.flash import Flash
from app.sim.partition_table import SIM_FLASH_SIZE
from app.system.private_files import private_dir, private_file, tighten, write_private

MAC_PREFIX = b"\x02\x51"


@dataclass(frozen=True)
class BoardIdentity:
    chip: ChipType
    mac: bytes

    @property
    def mac_text(self) -> str:
        return ":".join(f"{b:02x}" for b in self.mac)


class BoardState:
    """Opens (or creates) a board folder. Close it to release the flash mapping."""

    def __init__(self, folder: Path, chip: ChipType, initial_efuses: EfuseState | None = None) -> None:
        private_dir(folder, what="virtual board folder")  # flash.bin holds the board's enrolment key
        self.folder = folder
        identity_file = folder / "board.json"
        fresh = not identity_file.exists()
        if fresh:
            self.identity = BoardIdentity(chip, MAC_PREFIX + secrets.token_bytes(4))
            _write_json(identity_file, {"chip": chip.value, "mac": self.identity.mac.hex()})
        else:
            self.identity = _read_identity(identity_file)
            if self.identity.chip is not chip:
                raise ConflictError(
                    f"{folder} holds an {self.identity.chip.display_name} board, not an {chip.display_name}; "
                    "use another state folder"
                )
        self.flash = Flash(private_file(folder / "flash.bin"), SIM_FLASH_SIZE)
        self.efuses = RealEfuses(folder / "efuses.json")
        if fresh and initial_efuses is not None:
            self.efuses.burn(initial_efuses)
        tighten(folder / "efuses.json")

    def close(self) -> None:
        self.flash.close()


def _read_identity(path: Path) -> BoardIdentity:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        mac = bytes.fromhex(data["mac"])
        chip = ChipType(data["chip"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValidationError(f"{path} is not a virtual board identity file ({exc})") from None
    if len(mac) != 6:
        raise ValidationError(f"{path}: a MAC address has 6 bytes")
    return BoardIdentity(chip, mac)


def _write_json(path: Path, data: dict[str, str]) -> None:
    write_private(path, json.dumps(data).encode("utf-8"), what="virtual board identity file")
