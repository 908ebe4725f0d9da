"""espefuse, Espressif's own eFuse tool, reads a virtual board's eFuses as it reads a real chip's.

The library (`init_commands(port=...)`) for every chip and every security state the boards model, and the
plain `espefuse summary` command line in a subprocess. A board's permanent eFuses are set up by writing
its state folder's `efuses.json` before it is plugged in, as a board from a box that was burned before.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import espefuse.efuse_interface as espefuse
import pytest
import serial

from app.domain.chips import ChipType
from app.provisioning import serial_urls
from app.sim.efuses import EfuseState
from app.sim.fleet import SimFleet
from tests.sim.sim_host import open_port

DIGEST = hashlib.sha256(b"lab key").digest()


def burned_board(state_root: Path, state: EfuseState, name: str = "sim-1") -> None:
    folder = state_root / name
    folder.mkdir(parents=True, mode=0o700)
    path = folder / "efuses.json"
    path.write_text(json.dumps(state.to_json()), encoding="utf-8")
    path.chmod(0o600)


@pytest.fixture
def quick_urls() -> Iterator[None]:
    """espefuse opens the URL itself; let the station's quick RFC 2217 client answer rfc2217:// URLs."""
    original = serial.protocol_handler_packages[:]
    serial_urls.install()
    yield
    serial.protocol_handler_packages[:] = original


def _summary(url: str, chip: ChipType, folder: Path) -> dict[str, Any]:
    out = folder / f"summary-{url.rsplit(':', 1)[1]}.json"
    with (
        espefuse.init_commands(port=url, chip=chip.value, do_not_confirm=True) as commands,
        out.open("w", encoding="utf-8") as fh,  # summary() wants a named file
    ):
        commands.summary(format="json", file=fh)
    fields: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return {name: field["value"] for name, field in fields.items()}


@pytest.mark.parametrize("chip", [ChipType.ESP32C3, ChipType.ESP32S2, ChipType.ESP32S3])
def test_summary_of_blank_and_locked_boards(
    make_fleet: Callable[..., SimFleet], tmp_path: Path, chip: ChipType, quick_urls: None
) -> None:
    locked = EfuseState().with_secure_boot(chip, DIGEST)
    burned_board(tmp_path / "boards", EfuseState(flash_crypt_cnt=1), "sim-2")
    fleet = make_fleet(count=2, chip=chip)
    blank = _summary(fleet.urls[0], chip, tmp_path)
    assert blank["MAC"] == f"{fleet.boards[0].mac} (OK)"
    assert blank["SECURE_BOOT_EN"] is False
    assert blank["KEY_PURPOSE_0"] == "USER"
    assert blank["SPI_BOOT_CRYPT_CNT"] == "Disable"

    encrypted = _summary(fleet.urls[1], chip, tmp_path)
    assert encrypted["SPI_BOOT_CRYPT_CNT"] == "Enable"
    fleet.close()

    burned_board(tmp_path / "locked", locked)
    locked_fleet = make_fleet(tmp_path / "locked", chip=chip)
    values = _summary(locked_fleet.urls[0], chip, tmp_path)
    assert values["SECURE_BOOT_EN"] is True
    assert values["KEY_PURPOSE_0"] == "SECURE_BOOT_DIGEST0"
    assert values["BLOCK_KEY0"] == DIGEST.hex(" ")
    jtag = "HARD_DIS_JTAG" if chip is ChipType.ESP32S2 else "DIS_PAD_JTAG"
    assert values[jtag] is True
    assert values["DIS_DOWNLOAD_ICACHE"] is True
    assert values["ENABLE_SECURITY_DOWNLOAD"] is False
    assert locked_fleet.boards[0].errors == []


def test_esp32_summary_has_a_valid_mac_crc_and_secure_boot_v2(
    make_fleet: Callable[..., SimFleet], tmp_path: Path, quick_urls: None
) -> None:
    burned_board(tmp_path / "boards", EfuseState().with_secure_boot(ChipType.ESP32, DIGEST))
    fleet = make_fleet(chip=ChipType.ESP32)
    values = _summary(fleet.urls[0], ChipType.ESP32, tmp_path)
    assert values["MAC"].startswith(fleet.boards[0].mac)
    assert values["MAC"].endswith("OK)")
    assert values["ABS_DONE_1"] is True
    assert values["JTAG_DISABLE"] is True
    assert values["BLOCK2"] == DIGEST.hex(" ")


def test_secure_download_mode_answers_security_info_and_refuses_reads(
    make_fleet: Callable[..., SimFleet], tmp_path: Path
) -> None:
    from esptool.cmds import detect_chip
    from esptool.util import FatalError

    state = EfuseState(secure_download=True, flash_crypt_cnt=1).with_secure_boot(ChipType.ESP32C3, DIGEST)
    burned_board(tmp_path / "boards", state)
    fleet = make_fleet()
    port = open_port(fleet.urls[0], lines_released=False)
    try:
        esp = detect_chip(port)
        assert esp.secure_download_mode
        info = esp.get_security_info()
        assert info["parsed_flags"]["SECURE_BOOT_EN"]
        assert info["flash_crypt_cnt"] == 1
        with pytest.raises(FatalError):
            esp.read_reg(0x60008844)
        with pytest.raises(FatalError):
            esp.run_stub()
    finally:
        port.close()


@pytest.mark.slow
def test_plain_espefuse_summary_cli(make_fleet: Callable[..., SimFleet]) -> None:
    """The command line as a person types it (stock pyserial, default reset): ~30 s over RFC 2217."""
    fleet = make_fleet()
    result = subprocess.run(
        [sys.executable, "-m", "espefuse", "--port", fleet.urls[0], "--chip", "esp32c3", "summary"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"= {fleet.boards[0].mac} (OK)" in result.stdout
    assert "SECURE_BOOT_EN (BLOCK0)" in result.stdout
    assert fleet.boards[0].errors == []
