"""Opening a board's UART for its firmware and resetting it, including the ways that cannot work."""

from __future__ import annotations

import time

import pytest

from app.flashing.flash_errors import BoardNotFoundError
from app.provisioning.board_reset import hard_reset, open_uart, reset_into_firmware
from app.sim.run_context import BootMode

from .conftest import FleetFactory


def test_hard_reset_boots_the_board_from_flash(make_fleet: FleetFactory) -> None:
    fleet = make_fleet(1)
    board = fleet.boards[0]
    before = len(board.boot_modes)
    message = hard_reset(fleet.urls[0])
    assert message == f"the board on {fleet.urls[0]} was reset"
    deadline = time.monotonic() + 5
    while len(board.boot_modes) == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert BootMode.FLASH in board.boot_modes[before:]
    assert BootMode.DOWNLOAD not in board.boot_modes


def test_socket_urls_cannot_carry_a_reset() -> None:
    message = hard_reset("socket://127.0.0.1:9")
    assert "no modem lines" in message and "press its RESET button" in message
    port = open_uart("loop://")
    try:
        assert reset_into_firmware(port, "loop://") is False
    finally:
        port.close()


def test_a_port_that_is_not_there(make_fleet: FleetFactory) -> None:
    fleet = make_fleet(1)
    url = fleet.urls[0]
    fleet.servers[0].unplug()
    started = time.monotonic()
    with pytest.raises(BoardNotFoundError, match=r"cannot open .* to talk to the board's firmware"):
        open_uart(url, patience=0.3)
    assert 0.25 < time.monotonic() - started < 5
    assert "could not be reset" in hard_reset(url, attempts=2, pause=0.05)
