"""A host that stops reading loses its own board's output; every other board's keeps flowing."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from app.sim.faults import Faults
from app.sim.rfc2217_server import BACKLOG_LIMIT, _Connection
from app.sim.uart import Uart

SMALL_BUFFER = 4096
PROMPT_S = 1.0  # far longer than a write to a socket with room, or a drop, takes


@contextmanager
def _tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(the simulator's end, the host's end) over loopback TCP, as a board's server has, small buffers."""
    listener = socket.create_server(("127.0.0.1", 0))
    host = socket.socket()
    host.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
    host.connect(listener.getsockname())
    ours, _address = listener.accept()
    listener.close()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
    with ours, host:
        yield ours, host


def _read_all(sock: socket.socket, quiet_s: float = 0.2) -> bytes:
    data = b""
    sock.settimeout(quiet_s)
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return data
        if not chunk:
            return data
        data += chunk


def test_writes_to_a_host_that_stopped_reading_wait_in_a_backlog_then_are_dropped_whole() -> None:
    chunk = bytes(range(256)) * 4  # 1 KiB, as a board's transmit buffer holds
    with _tcp_pair() as (ours, host):
        connection = _Connection(ours)
        writer = threading.Thread(  # 2 MiB: far more than the buffers and the backlog hold
            target=lambda: [connection.write(chunk) for _ in range(2000)], daemon=True
        )
        writer.start()
        writer.join(PROMPT_S)
        assert not writer.is_alive()  # never waited for the host
        assert 0 < connection.dropped <= 2000 * len(chunk) - BACKLOG_LIMIT
        assert connection.dropped % len(chunk) == 0  # whole writes, never a cut one
        delivered = _read_all(host)  # the host reads again: what was kept comes, in order
        assert len(delivered) + connection.dropped == 2000 * len(chunk)
        assert len(delivered) % len(chunk) == 0 and delivered == chunk * (len(delivered) // len(chunk))
        connection.write(b"back")  # the host reads again: so does its board's output
        assert _read_all(host) == b"back"


def test_a_stalled_host_does_not_hold_up_another_boards_output() -> None:
    """Both boards' output leaves through the simulator's one transmit clock (long enough writes go
    through it, not out of the firmware's own thread)."""
    with _tcp_pair() as (stalled_ours, _stalled_host), _tcp_pair() as (ours, host):
        stalled, flowing = Uart(Faults(), pacing=True), Uart(Faults(), pacing=True)
        stalled.host_baud = flowing.host_baud = 2_000_000  # quick to fill the stalled host's buffers
        stalled_connection = _Connection(stalled_ours)
        stalled.attach(stalled_connection.write)
        flowing.attach(_Connection(ours).write)
        chatter = threading.Thread(
            target=lambda: [stalled.write(stalled.generation, bytes(8192)) for _ in range(64)], daemon=True
        )
        chatter.start()  # 0.5 MiB, 2.6 s of wire, into a host that never reads
        time.sleep(0.5)  # its buffers are full by now
        line = b"still here " * 400  # 4.4 KB: 22 ms of wire, sent by the clock
        started = time.monotonic()
        flowing.write(flowing.generation, line)
        received = b""
        host.settimeout(PROMPT_S)
        while len(received) < len(line):
            received += host.recv(65536)
        assert received == line
        assert time.monotonic() - started < PROMPT_S
        chatter.join(10)
        assert stalled_connection.dropped > 0
