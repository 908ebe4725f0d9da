"""Our rfc2217:// handler: chosen by pyserial once installed, and quick where pyserial's own waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import serial
import serial.rfc2217

from app.provisioning import serial_urls
from app.provisioning.serial_urls.protocol_rfc2217 import Serial as QuickRfc2217

from .conftest import FleetFactory


@pytest.fixture
def installed() -> Iterator[None]:
    before = list(serial.protocol_handler_packages)
    serial_urls.install()
    serial_urls.install()
    try:
        yield
    finally:
        serial.protocol_handler_packages[:] = before


def test_install_puts_ours_first_once(installed: None) -> None:
    assert serial.protocol_handler_packages.count(serial_urls.PACKAGE) == 1
    assert serial.protocol_handler_packages[0] == serial_urls.PACKAGE


def test_timeout_changes_cost_no_round_trips(installed: None, make_fleet: FleetFactory) -> None:
    fleet = make_fleet(1)
    port = serial.serial_for_url(fleet.urls[0])
    try:
        assert isinstance(port, QuickRfc2217)
        started = time.monotonic()
        for step in range(20):
            port.timeout = 0.1 + step / 100
        timeouts_took = time.monotonic() - started
        port.baudrate = 460800
        assert fleet.boards[0].uart.host_baud == 460800
        port.rts = True
        port.rts = False
    finally:
        port.close()
    assert timeouts_took < 0.2  # pyserial's own client spends >= 100 ms on each of these 20 changes


def test_pyserials_sleeps_are_plain_sleeps_outside_a_ports_wait(installed: None) -> None:
    """Through our handler's import, pyserial's `time.sleep` reads a port's socket only in a thread that
    is waiting for that port's server (inside `open`); anywhere else it sleeps as asked."""
    started = time.monotonic()
    serial.rfc2217.time.sleep(0.03)  # type: ignore[attr-defined]
    assert time.monotonic() - started >= 0.03
    assert serial.rfc2217.time.monotonic() > 0  # type: ignore[attr-defined]  (the rest is `time`)


def test_opening_a_virtual_board_takes_less_than_one_of_pyserials_polls(
    installed: None, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1)
    took = []
    for _ in range(3):
        started = time.monotonic()
        port = serial.serial_for_url(fleet.urls[0])
        took.append(time.monotonic() - started)
        port.close()
    assert min(took) < 0.05  # pyserial's loop alone slept 50 ms before its first look at the answers


def test_after_open_the_reader_reads_the_socket_itself(installed: None, make_fleet: FleetFactory) -> None:
    """No reader thread, during the negotiation or after it: a board's answer wakes its reader only."""
    fleet = make_fleet(1)
    port = serial.serial_for_url(fleet.urls[0], baudrate=115200, timeout=5)
    try:
        assert isinstance(port, QuickRfc2217)
        readers = [t.name for t in threading.enumerate() if "RFC 2217 reader" in t.name]
        assert readers == []
        port.dtr = False
        port.rts = True  # EN low: the board is held in reset
        port.rts = False  # and let go: it boots and prints the ROM banner
        seen = b""
        while b"ESP-ROM" not in seen:
            chunk = port.read(1)  # byte by byte: the rest of the banner stays to be read below
            assert chunk, f"nothing more within the timeout after {seen!r}"
            seen += chunk
        time.sleep(0.5)  # the rest of its banner has arrived, unread
        port.timeout = 0
        assert port.read(4096)  # a timeout of 0 still takes what the socket holds
    finally:
        port.close()


def test_a_read_after_the_board_went_away_says_the_connection_closed(
    installed: None, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1)
    port = serial.serial_for_url(fleet.urls[0], timeout=5)
    try:
        fleet.boards[0].vanish()  # unplugged: its server drops the connection
        with pytest.raises(serial.SerialException, match="closed"):
            while True:
                port.read(4096)  # what was on its way is read first
    finally:
        port.close()
