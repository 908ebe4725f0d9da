"""The auto-reset circuit: esptool's default reset enters download mode, a hard reset boots from flash,
and opening or closing the port resets nothing."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import serial

from app.sim.fleet import SimFleet
from app.sim.run_context import BootMode
from tests.sim.sim_host import hard_reset, open_port


def _read_for(port: serial.SerialBase, seconds: float) -> bytes:
    end = time.monotonic() + seconds
    data = b""
    while time.monotonic() < end:
        data += port.read(max(1, port.in_waiting))
    return data


def test_classic_reset_enters_download_mode(make_fleet: Callable[..., SimFleet]) -> None:
    from esp_pylib.serial_reset import classic_bootloader_reset

    fleet = make_fleet()
    port = open_port(fleet.urls[0], lines_released=False)
    try:
        classic_bootloader_reset(port)  # the sequence esptool's ClassicReset runs for rfc2217:// ports
        output = _read_for(port, 0.5)
    finally:
        port.close()
    assert b"boot:0x5 (DOWNLOAD(USB/UART0/1))" in output
    assert b"waiting for download" in output
    assert fleet.boards[0].boot_modes[-1] is BootMode.DOWNLOAD


def test_hard_reset_boots_from_flash(make_fleet: Callable[..., SimFleet]) -> None:
    fleet = make_fleet()
    port = open_port(fleet.urls[0])
    try:
        hard_reset(port)
        output = _read_for(port, 0.5)
    finally:
        port.close()
    assert b"boot:0xc (SPI_FAST_FLASH_BOOT)" in output
    assert b"waiting for download" not in output
    assert b"invalid header: 0xffffffff" in output  # a factory-new board has nothing in flash


@pytest.mark.parametrize("lines_released", [True, False])
def test_opening_and_closing_the_port_resets_nothing(
    make_fleet: Callable[..., SimFleet], lines_released: bool
) -> None:
    fleet = make_fleet()
    board = fleet.boards[0]
    time.sleep(0.05)
    boots_before = len(board.boot_modes)
    port = open_port(fleet.urls[0], lines_released=lines_released)  # pyserial asserts DTR then RTS by default
    time.sleep(0.3)
    port.close()
    time.sleep(0.3)
    assert len(board.boot_modes) == boots_before


def test_second_client_is_refused_while_port_is_open(make_fleet: Callable[..., SimFleet]) -> None:
    fleet = make_fleet()
    first = open_port(fleet.urls[0])
    try:
        with pytest.raises((serial.SerialException, OSError)):
            open_port(fleet.urls[0])
    finally:
        first.close()
