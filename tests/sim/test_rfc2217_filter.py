"""The virtual board's RFC 2217 filter: the same data and the same answers as pyserial's own, faster."""

from __future__ import annotations

import random
import socket
import struct
import sys
import time

import pytest
from serial.rfc2217 import COM_PORT_OPTION, IAC, SB, SE, SET_BAUDRATE, WILL, PortManager

from app.sim.faults import Faults
from app.sim.rfc2217_server import _FastPortManager, _timestamped_receiver
from app.sim.uart import Uart


class Port:
    """The few serial-port settings PortManager reads and sets."""

    baudrate = 115200
    bytesize = 8
    parity = "N"
    stopbits = 1
    xonxoff = rtscts = False
    dtr = rts = break_condition = False
    cts = dsr = ri = cd = False


class Wire:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.sent.append(data)


def _client_stream() -> bytes:
    """What a client sends: flash-like data with 0xFF in it, a baud change in the middle."""
    data = random.Random(5).randbytes(20000) + b"\xff\xff\xff"
    baud = struct.pack("!I", 921600).replace(IAC, IAC + IAC)
    change = IAC + WILL + COM_PORT_OPTION + IAC + SB + COM_PORT_OPTION + SET_BAUDRATE + baud + IAC + SE
    doubled = data.replace(IAC, IAC + IAC)
    return doubled[:7001] + change + doubled[7001:]


def _run(manager_class: type[PortManager], stream: bytes, size: int) -> tuple[bytes, list[bytes], int]:
    port, wire = Port(), Wire()
    manager = manager_class(port, wire)
    data = b"".join(b"".join(manager.filter(stream[pos : pos + size])) for pos in range(0, len(stream), size))
    return data, wire.sent, port.baudrate


@pytest.mark.parametrize("size", [1, 2, 3, 255, 4096, 1 << 20])
def test_same_data_answers_and_settings_as_pyserial_in_any_chunking(size: int) -> None:
    stream = _client_stream()
    ours = _run(_FastPortManager, stream, size)
    reference = _run(PortManager, stream, size)
    assert ours == reference
    assert ours[2] == 921600
    assert len(ours[0]) == 20003


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kernel receive timestamps: Linux")
def test_bytes_are_timed_from_when_they_reached_the_machine_not_when_the_thread_took_them() -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # TCP, as the boards' servers are
    theirs = socket.create_connection(listener.getsockname())
    ours, _address = listener.accept()
    listener.close()
    with ours, theirs:
        receive = _timestamped_receiver(ours)
        # Linux turns receive timestamps on for the whole machine lazily (deferred work) when the first
        # socket asks, and off when the last one closes: a packet in between is stamped when it is read.
        # The simulator's sockets stay open; here one packet goes first so the next is stamped on arrival.
        theirs.sendall(b"warm-up")
        assert receive()[0] == b"warm-up"
        time.sleep(0.05)
        sent = time.monotonic()
        theirs.sendall(b"block")
        time.sleep(0.3)  # a busy simulator's connection thread gets round to it late
        data, arrived = receive()
        taken = time.monotonic()
    assert data == b"block"
    assert arrived < taken - 0.2  # the wait is not wire time
    assert arrived >= sent - 0.05  # and it did not come before it was sent (clock conversion slack)


def test_bytes_that_arrived_earlier_are_readable_earlier() -> None:
    uart = Uart(Faults(), pacing=True)
    uart.host_baud = 115200  # 64 bytes: 5.6 ms on the wire
    uart.host_data(b"x" * 64, arrived=time.monotonic() - 0.01)  # reached the machine 10 ms ago
    assert uart.read(uart.generation, 64, 0) == b"x" * 64  # already across the wire
    uart.host_data(b"y" * 64)
    assert uart.read(uart.generation, 64, 0) == b""  # only now starting to cross
