"""esptool (as a library, unmodified) against the virtual ROM loader and flasher stub."""

from __future__ import annotations

import hashlib
import os
import struct
import time
from collections.abc import Callable

import esptool
import pytest
from esptool.cmds import write_flash

from app.domain.chips import ChipType
from app.sim.faults import Faults
from app.sim.fleet import SimFleet
from tests.sim.sim_host import esptool_session, open_port


@pytest.mark.parametrize("chip", list(ChipType))
def test_detects_chip_and_reads_identity(make_fleet: Callable[..., SimFleet], chip: ChipType) -> None:
    fleet = make_fleet(chip=chip)
    board = fleet.boards[0]
    with esptool_session(fleet.urls[0]) as esp:
        assert chip.display_name == esp.CHIP_NAME
        assert esp.IS_STUB
        mac = ":".join(f"{b:02x}" for b in esp.read_mac())
        description = esp.get_chip_description()
        secure_boot = esp.get_secure_boot_enabled()
        flash_encrypted = esp.get_flash_encryption_enabled()
        crystal = esp.get_crystal_freq()
    assert mac == board.mac
    assert "revision v" in description
    assert not secure_boot
    assert not flash_encrypted
    assert crystal == 40


def test_security_info_reports_chip_and_flags(make_fleet: Callable[..., SimFleet]) -> None:
    fleet = make_fleet(chip=ChipType.ESP32S3)
    with esptool_session(fleet.urls[0]) as esp:
        info = esp.get_security_info(cache=False)
    assert info["chip_id"] == ChipType.ESP32S3.profile.image_chip_id
    assert info["flags"] == 0
    assert info["flash_crypt_cnt"] == 0


def test_macs_differ_between_boards(make_fleet: Callable[..., SimFleet]) -> None:
    fleet = make_fleet(count=2)
    macs = set()
    for url in fleet.urls:
        with esptool_session(url) as esp:
            macs.add(bytes(esp.read_mac()))
    assert len(macs) == 2


@pytest.mark.parametrize("compress", [True, False])
def test_write_verify_and_read_back_at_high_baud(make_fleet: Callable[..., SimFleet], compress: bool) -> None:
    fleet = make_fleet()
    board = fleet.boards[0]
    image = os.urandom(40 * 1024) + bytes(range(256)) * 64  # part incompressible, part not
    with esptool_session(fleet.urls[0], baud=921600) as esp:
        write_flash(esp, [(0x21000, image)], compress=compress)  # write_flash MD5-verifies itself
        read = esp.read_flash(0x21000, len(image))
        md5 = esp.flash_md5sum(0x21000, len(image))
    assert read == image
    assert md5 == hashlib.md5(image).hexdigest()  # noqa: S324
    assert board.state.flash.read(0x21000, len(image)) == image
    assert board.state.flash.read(0x20000, 0x1000) == b"\xff" * 0x1000  # nothing before the region


def test_unaligned_write_erases_only_its_sectors(make_fleet: Callable[..., SimFleet]) -> None:
    fleet = make_fleet()
    board = fleet.boards[0]
    board.state.flash.write(0x30000, b"\x00" * 0x3000)
    with esptool_session(fleet.urls[0]) as esp:
        write_flash(esp, [(0x31010, b"\x5a" * 100)])
    flash = board.state.flash
    assert flash.read(0x30000, 0x1000) == b"\x00" * 0x1000  # sector before: untouched
    assert flash.read(0x31000, 0x10) == b"\xff" * 0x10  # same sector, before the data: erased
    assert flash.read(0x31010, 100) == b"\x5a" * 100
    assert flash.read(0x32000, 0x1000) == b"\x00" * 0x1000  # sector after: untouched


def test_erase_region_and_whole_flash(make_fleet: Callable[..., SimFleet]) -> None:
    fleet = make_fleet()
    flash = fleet.boards[0].state.flash
    flash.write(0x10000, b"\x00" * 0x3000)
    flash.write(0x200000, b"\x11" * 16)
    with esptool_session(fleet.urls[0]) as esp:
        esp.erase_region(0x11000, 0x1000)
        assert flash.read(0x10000, 0x3000) == b"\x00" * 0x1000 + b"\xff" * 0x1000 + b"\x00" * 0x1000
        with pytest.raises(esptool.FatalError):
            esp.erase_region(0x11001, 0x1000)  # not sector aligned: the stub refuses
        esp.erase_flash()
    assert flash.read(0, flash.size) == b"\xff" * flash.size


def test_rom_loader_without_stub(make_fleet: Callable[..., SimFleet]) -> None:
    """--no-stub: the ROM erases up front, answers MD5 in hex and reads 64 bytes per command."""
    from esptool.cmds import detect_chip

    fleet = make_fleet(chip=ChipType.ESP32)
    data = os.urandom(3000)
    port = open_port(fleet.urls[0], lines_released=False)
    try:
        esp = detect_chip(port)
        assert not esp.IS_STUB
        write_flash(esp, [(0x40000, data)])
        assert esp.read_flash(0x40000, 200) == data[:200]
        assert esp.flash_md5sum(0x40000, len(data)) == hashlib.md5(data).hexdigest()  # noqa: S324
        with pytest.raises(esptool.FatalError):
            esp.erase_flash()  # a stub-only command
    finally:
        port.close()
    assert fleet.boards[0].state.flash.read(0x40000, len(data)) == data


def test_bad_checksum_and_unknown_command_get_error_status(make_fleet: Callable[..., SimFleet]) -> None:
    fleet = make_fleet()
    with esptool_session(fleet.urls[0]) as esp:
        esp.flash_begin(1024, 0x50000)
        block = b"\x01" * esp.FLASH_WRITE_SIZE
        with pytest.raises(esptool.FatalError, match="01C1"):
            esp.check_command(
                "write",
                esp.ESP_CMDS["FLASH_DATA"],
                struct.pack("<IIII", len(block), 0, 0, 0) + block,
                chk=0x00,
            )
        with pytest.raises(esptool.FatalError, match="01C3"):
            esp.check_command("mystery", 0x5E, b"")


@pytest.mark.parametrize("chip", [ChipType.ESP32C3, ChipType.ESP32S3])
def test_security_info_of_a_locked_board(make_fleet: Callable[..., SimFleet], chip: ChipType) -> None:
    """On a secure-boot ESP32-S3, esptool starts its stub through a ROM read-function hook."""
    digest = hashlib.sha256(b"someone else's key").digest()
    fleet = make_fleet(chip=chip, faults=[Faults(locked_key_digest=digest)])
    with esptool_session(fleet.urls[0]) as esp:
        assert esp.IS_STUB
        info = esp.get_security_info(cache=False)
        enabled = esp.get_secure_boot_enabled()
    assert info["parsed_flags"]["SECURE_BOOT_EN"]
    assert info["key_purposes"][0] == 9  # SECURE_BOOT_DIGEST0
    assert enabled


def test_paced_board_takes_the_wire_time(make_fleet: Callable[..., SimFleet]) -> None:
    fleet = make_fleet(pacing=True)
    board = fleet.boards[0]
    image = os.urandom(32 * 1024)
    with esptool_session(fleet.urls[0], baud=921600) as esp:
        before = board.uart.rx_bytes + board.uart.tx_bytes
        start = time.perf_counter()
        write_flash(esp, [(0x60000, image)], compress=False)
        elapsed = time.perf_counter() - start
        wire = board.uart.rx_bytes + board.uart.tx_bytes - before
    assert wire > len(image)
    assert elapsed >= wire * 10 / 921600
