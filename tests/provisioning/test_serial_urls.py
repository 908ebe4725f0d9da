"""Our rfc2217:// handler: chosen by pyserial once installed, and quick where pyserial's own waits."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import serial

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
