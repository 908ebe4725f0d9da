"""eFuse words read from the chip once per connection, not once per question.

esptool asks the chip for the same few eFuse words again and again: the chip description, the MAC and
the security state read them once, the stub upload asks for Secure Boot again, and every `write_flash`
call (one per image) asks for Flash Encryption, the encrypted-download setting, Secure Boot and the chip
revision once more. On an ESP32-C3 that is 31 READ_REG round trips a board, of which 7 are different
words. eFuse data does not change while the chip is in download mode unless it is burned, and a burn
(espefuse, through this same loader) and the reload that makes it readable are both writes to the eFuse
controller's registers; so the words are kept until a register write lands in the controller, which
forgets them all.

Only the read-data registers of each chip's eFuse controller are kept: never its command, status or
clock registers, which do change, nor anything outside the controller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.domain.chips import ChipType


@dataclass(frozen=True)
class _Controller:
    """A chip's eFuse controller: all its registers [base, end), and its read-data ones [data, data_end)."""

    base: int
    end: int
    data: int
    data_end: int


# From each chip's technical reference manual (the register summary of its eFuse controller chapter)
# and esptool's EFUSE_*_BASE constants.
_CONTROLLERS: dict[ChipType, _Controller] = {
    # BLK0..BLK3 read data at +0x000..+0x094; program, clock, status and command registers follow.
    ChipType.ESP32: _Controller(0x3FF5A000, 0x3FF5A000 + 0x200, 0x3FF5A000, 0x3FF5A000 + 0x098),
    # EFUSE_RD_WR_DIS_REG (+0x02C) to the end of BLOCK10 (+0x178); error, clock, status and command
    # registers follow from +0x17C; the controller ends at +0x200.
    ChipType.ESP32C3: _Controller(0x60008800, 0x60008800 + 0x200, 0x60008800 + 0x02C, 0x60008800 + 0x17C),
    ChipType.ESP32S2: _Controller(0x3F41A000, 0x3F41A000 + 0x200, 0x3F41A000 + 0x02C, 0x3F41A000 + 0x17C),
    ChipType.ESP32S3: _Controller(0x60007000, 0x60007000 + 0x200, 0x60007000 + 0x02C, 0x60007000 + 0x17C),
}


def remember_efuse_reads(esp: Any, chip: ChipType | None, memo: dict[int, int]) -> None:
    """Make `esp` (an esptool loader) answer repeated reads of eFuse data from `memo`.

    `memo` belongs to the connection, so the ROM loader and the stub loader that replaces it share what
    was read. A `write_reg` into the eFuse controller empties it first. For a chip not in the table,
    `esp` is left as it is.
    """
    controller = _CONTROLLERS.get(chip) if chip is not None else None
    if controller is None:
        return
    read_reg, write_reg = esp.read_reg, esp.write_reg

    def remembered_read(addr: int, *args: Any, **kwargs: Any) -> Any:
        if not controller.data <= addr < controller.data_end:
            return read_reg(addr, *args, **kwargs)
        value = memo.get(addr)
        if value is None:
            value = memo[addr] = read_reg(addr, *args, **kwargs)
        return value

    def forgetting_write(addr: int, *args: Any, **kwargs: Any) -> Any:
        if controller.base <= addr < controller.end:
            memo.clear()
        return write_reg(addr, *args, **kwargs)

    esp.read_reg = remembered_read
    esp.write_reg = forgetting_write
