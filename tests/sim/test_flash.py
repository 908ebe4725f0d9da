from __future__ import annotations

from pathlib import Path

import pytest

from app.sim.flash import Flash, FlashRangeError
from app.sim.flash_commands import program


def test_new_flash_is_erased_and_persists(tmp_path: Path) -> None:
    flash = Flash(tmp_path / "flash.bin", 0x10000)
    assert flash.read(0, 0x10000) == b"\xff" * 0x10000
    flash.write(0x100, b"abc")
    flash.close()
    again = Flash(tmp_path / "flash.bin", 0x10000)
    try:
        assert again.read(0x100, 3) == b"abc"
    finally:
        again.close()


def test_erase_rounds_to_sectors_and_program_only_clears_bits(tmp_path: Path) -> None:
    flash = Flash(tmp_path / "flash.bin", 0x4000)
    try:
        flash.write(0, b"\x00" * 0x4000)
        flash.erase(0x1800, 0x10)  # inside sector 1
        assert flash.read(0x1000, 0x1000) == b"\xff" * 0x1000
        assert flash.read(0x0FFF, 1) == b"\x00" and flash.read(0x2000, 1) == b"\x00"
        program(flash, 0x1000, b"\xf0")
        program(flash, 0x1000, b"\x0f")  # NOR: 0xf0 & 0x0f
        assert flash.read(0x1000, 1) == b"\x00"
    finally:
        flash.close()


def test_access_outside_the_chip_is_refused(tmp_path: Path) -> None:
    flash = Flash(tmp_path / "flash.bin", 0x1000)
    try:
        with pytest.raises(FlashRangeError, match=r"flash access 0xff0\+0x20 is outside the 4 KiB flash"):
            flash.write(0xFF0, b"\x00" * 0x20)
    finally:
        flash.close()
