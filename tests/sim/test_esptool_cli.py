"""The plain esptool CLI, with its default reset, writes and reads back a virtual board.

Slow on purpose: stock pyserial's RFC 2217 client spends ~0.2 s per esptool command (it renegotiates
the line settings whenever esptool changes the read timeout), so each esptool run takes ~20 s here.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from app.domain.chips import FACTORY_APP_OFFSET, PARTITION_TABLE_OFFSET, ChipType
from app.domain.kinds import BootloaderKind, IefKind
from app.sim.faults import Stage
from app.sim.fleet import SimFleet
from app.sim.images import build_sim_bootloader, build_sim_ief, build_sim_partition_table

ESPTOOL = [sys.executable, "-m", "esptool"]


def _esptool(*args: str) -> str:
    result = subprocess.run([*ESPTOOL, *args], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.slow
def test_write_flash_read_flash_image_info(make_fleet: Callable[..., SimFleet], tmp_path: Path) -> None:
    chip = ChipType.ESP32C3
    fleet = make_fleet(chip=chip)
    url = fleet.urls[0]
    files = {
        chip.bootloader_offset: build_sim_bootloader(chip, BootloaderKind.RELEASE),
        PARTITION_TABLE_OFFSET: build_sim_partition_table(chip),
        FACTORY_APP_OFFSET: build_sim_ief(chip, IefKind.DEBUG),
    }
    args: list[str] = []
    for offset, data in files.items():
        path = tmp_path / f"{offset:#x}.bin"
        path.write_bytes(data)
        args += [f"{offset:#x}", str(path)]

    written = _esptool("--port", url, "--baud", "921600", "write-flash", *args)
    assert "Hash of data verified." in written
    assert "Stub flasher running" in written and Stage.STUB in fleet.boards[0].stages
    assert "Hard resetting via RTS pin" in written

    readback = tmp_path / "readback.bin"
    _esptool("--port", url, "read-flash", "0x0", "0x20000", str(readback))
    flash = readback.read_bytes()
    for offset, data in files.items():
        assert flash[offset : offset + len(data)] == data
    app = tmp_path / "app-readback.bin"
    app.write_bytes(flash[FACTORY_APP_OFFSET : FACTORY_APP_OFFSET + len(files[FACTORY_APP_OFFSET])])
    info = _esptool("image-info", str(app))
    assert "Detected image type: ESP32-C3" in info
    assert "Project name: sim-ief-debug" in info
    assert "invalid" not in info
    assert fleet.boards[0].errors == []


@pytest.mark.slow
def test_no_stub_writes_through_the_rom(make_fleet: Callable[..., SimFleet], tmp_path: Path) -> None:
    fleet = make_fleet()
    data = tmp_path / "small.bin"
    data.write_bytes(b"rom loader" * 300)
    written = _esptool("--port", fleet.urls[0], "--no-stub", "write-flash", "0x40000", str(data))
    assert "Hash of data verified." in written and "Stub flasher running" not in written
    assert fleet.boards[0].state.flash.read(0x40000, 3000) == data.read_bytes()
    assert Stage.STUB not in fleet.boards[0].stages
