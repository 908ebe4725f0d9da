"""The RFC 2217 client's receive side: data in runs, Telnet commands in order, nothing lost or added."""

from __future__ import annotations

import random
import threading
import time

import pytest
from serial.rfc2217 import DO, IAC, NOP, SB, SE, WILL

from app.provisioning.serial_urls.telnet_input import ReceivedBytes, TelnetInput

COM_PORT_OPTION = b"\x2c"
SERVER_NOTIFY_MODEMSTATE = b"\x6b"


class Recorder:
    """Stands in for pyserial's handlers: notes what it is told, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes, bytes]] = []

    def _telnet_process_command(self, command: bytes) -> None:
        self.calls.append(("command", command, b""))

    def _telnet_negotiate_option(self, command: bytes, option: bytes) -> None:
        self.calls.append(("negotiate", command, option))

    def _telnet_process_subnegotiation(self, suboption: bytes) -> None:
        self.calls.append(("sub", suboption, b""))


def _on_the_wire(data: bytes) -> bytes:
    return data.replace(IAC, IAC + IAC)


def _stream() -> tuple[bytes, bytes, list[tuple[str, bytes, bytes]]]:
    """Data with 0xFF bytes in it, as a server sends it, with commands between the runs."""
    rng = random.Random(13)
    runs = [rng.randbytes(n) + b"\xff" for n in (0, 5, 300, 4096)]
    commands = [
        (IAC + WILL + b"\x00", ("negotiate", WILL, b"\x00")),
        (
            IAC + SB + COM_PORT_OPTION + b"\x65\xff\xff\x10" + IAC + SE,  # a doubled 0xFF inside too
            ("sub", COM_PORT_OPTION + b"\x65\xff\x10", b""),
        ),
        (IAC + NOP, ("command", NOP, b"")),
        (IAC + DO + b"\x2c", ("negotiate", DO, b"\x2c")),
    ]
    wire = b"".join(_on_the_wire(run) + command for run, (command, _) in zip(runs, commands, strict=True))
    return wire, b"".join(runs), [call for _, call in commands]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1 << 20])
def test_data_and_commands_come_out_whole_in_any_chunking(size: int) -> None:
    wire, data, calls = _stream()
    recorder = Recorder()
    telnet = TelnetInput(ReceivedBytes(), recorder)
    for pos in range(0, len(wire), size):
        telnet.feed(wire[pos : pos + size])
    assert telnet.received.available() == len(data)
    assert telnet.received.take(len(data) + 1, timeout=0) == data
    assert recorder.calls == calls


def test_a_read_takes_at_most_what_it_asks_and_leaves_the_rest() -> None:
    received = ReceivedBytes()
    received.put(b"abcdef")
    received.put(b"gh")
    assert received.take(4, timeout=0) == b"abcd"
    assert received.available() == 4
    assert received.take(3, timeout=0) == b"efg"
    assert received.take(5, timeout=0) == b"h"
    assert received.take(1, timeout=0) == b""


def test_a_read_waits_for_all_it_asks_until_its_timeout() -> None:
    received = ReceivedBytes()
    received.put(b"ab")
    started = time.monotonic()
    assert received.take(3, timeout=0.1) == b"ab"  # only two came
    assert time.monotonic() - started >= 0.09
    later = threading.Timer(0.05, received.put, args=(b"cd",))
    later.start()
    try:
        assert received.take(2, timeout=None) == b"cd"  # no timeout: as soon as both are there
    finally:
        later.join()


def test_after_the_connection_ends_reads_return_what_is_left_then_nothing() -> None:
    received = ReceivedBytes()
    received.put(b"last")
    received.end()
    assert received.take(10, timeout=None) == b"last"
    assert received.take(10, timeout=None) == b""


def test_clear_drops_what_was_not_read() -> None:
    received = ReceivedBytes()
    received.put(b"stale")
    received.clear()
    assert received.available() == 0
    received.put(b"new")
    assert received.take(10, timeout=0) == b"new"
