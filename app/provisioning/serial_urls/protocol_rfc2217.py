"""`rfc2217://` without the waits that made a network serial port ten times slower than its baud rate.

pyserial's RFC 2217 client renegotiates baud rate, data size, parity, stop bits and flow control every
time *any* setting changes, timeouts included, and polls for each acknowledgement in 50 ms sleeps.
esptool changes the read timeout around nearly every command, so each command paid 100-200 ms on top of
its bytes: 80 KiB took ten seconds against a board with pacing off. Timeouts exist only on our side of
the connection, so here a change that leaves the line settings as they are sends nothing, and the
acknowledgements that are still needed (line settings, DTR/RTS, purge) are polled every millisecond.
Closing does not pause either; whoever reopens at once retries (app.provisioning.board_reset.open_uart).
Received data is taken apart in runs and read in chunks instead of one queue entry per byte
(app.provisioning.serial_urls.telnet_input).

Opening still runs pyserial's own negotiation, which checks for the server's answers after each 50 ms
sleep: at least 50 ms of every open. Its module sees the `time` of `_OpeningTime` instead, whose sleep,
in the thread that is opening a port, reads that port's socket until something arrives: each loop
checks again as soon as the server has answered, and not before.

No thread reads in the background: whoever waits (for data, or for an acknowledgement) takes what the
socket holds, and waits on the socket itself, woken by the kernel when bytes arrive. With 64 boards on
two CPUs, a waiter that polled each millisecond instead cost ~600 empty wake-ups per board's run.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import serial.rfc2217
from serial import PortNotOpenError, SerialException
from serial.rfc2217 import (
    PURGE_RECEIVE_BUFFER,
    RFC2217_PARITY_MAP,
    RFC2217_STOPBIT_MAP,
    SET_CONTROL_USE_HW_FLOW_CONTROL,
    SET_CONTROL_USE_NO_FLOW_CONTROL,
    SET_CONTROL_USE_SW_FLOW_CONTROL,
)
from serial.rfc2217 import Serial as _PyserialRfc2217

from app.provisioning.serial_urls.telnet_input import ReceivedBytes, TelnetInput
from app.system.readiness import readable

PUMP_SLICE_SECONDS = 0.05  # a reader waiting for data looks again at least this often (another may take it)


class _ServerWaits:
    """The `time` module for pyserial's RFC 2217 code. The sleeps of its that our Serial keeps (in
    `open`, and polling the modem lines) wait for the server to answer; in a thread that is inside one
    of those for one of our ports, they read that port's socket until something arrives (or the sleep
    is over) instead."""

    def __init__(self) -> None:
        self._waiting = threading.local()

    @contextlib.contextmanager
    def on(self, port: Serial) -> Iterator[None]:
        """Within this block, this thread's pyserial sleeps read `port`."""
        self._waiting.port = port
        try:
            yield
        finally:
            self._waiting.port = None

    def sleep(self, seconds: float) -> None:
        port: Serial | None = getattr(self._waiting, "port", None)
        if port is None:
            time.sleep(seconds)
        else:
            port._pump(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


_SERVER_WAITS = _ServerWaits()
serial.rfc2217.time = _SERVER_WAITS


class Serial(_PyserialRfc2217):  # type: ignore[misc]
    """pyserial's RFC 2217 client, quick to change settings, with no reader thread.

    A board's answer used to wake pyserial's reader thread, which then woke the reader: two threads to
    schedule for each of the ~150 round trips of a board's run, on a station where 64 boards compete for
    two CPUs. Here whoever reads (or waits for an acknowledgement) takes what has arrived from the socket
    itself, from the first byte of the negotiation on.
    """

    _applied: tuple[Any, ...] | None = None
    _input: TelnetInput | None = None
    _pump_lock: threading.Lock

    def open(self) -> None:
        self._applied = None
        self._pump_lock = threading.Lock()
        self._input = TelnetInput(ReceivedBytes(), self)
        with _SERVER_WAITS.on(self):
            super().open()
        thread: threading.Thread | None = getattr(self, "_thread", None)
        if thread is not None and thread is not threading.current_thread():
            thread.join()  # pyserial started it; it returned at once (see _telnet_read_loop)
        self._thread = None

    @property
    def in_waiting(self) -> int:
        received = self._received()
        self._pump(0.0)
        return received.available()

    def read(self, size: int = 1) -> bytes:
        received = self._received()
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        while received.available() < size and not received.ended:
            left = None if deadline is None else deadline - time.monotonic()
            self._pump(PUMP_SLICE_SECONDS if left is None else max(0.0, min(left, PUMP_SLICE_SECONDS)))
            if left is not None and left <= 0:
                break  # looked once more, even with no time left (a timeout of 0 reads what is there)
        if not received.available() and received.ended:
            raise SerialException("connection failed (the RFC 2217 server closed it)")
        return received.take(size, 0)

    def reset_input_buffer(self) -> None:
        received = self._received()
        self.rfc2217_send_purge(PURGE_RECEIVE_BUFFER)
        self._pump(0.0)
        received.clear()

    def get_modem_state(self) -> int:
        self._pump(0.0)  # the server's own notices of a change, if any came
        with _SERVER_WAITS.on(self):
            return int(super().get_modem_state())

    def _received(self) -> ReceivedBytes:
        if not self.is_open or self._input is None:
            raise PortNotOpenError()
        return self._input.received

    def _pump(self, seconds: float) -> None:
        """Take apart what the socket holds, waiting up to `seconds` for something to come."""
        sock: socket.socket | None = self._socket
        telnet = self._input
        if sock is None or telnet is None:
            time.sleep(seconds)  # closed under a waiter: it finds out when it looks again
            return
        with self._pump_lock:
            if not readable(sock, seconds):
                return
            try:
                data = sock.recv(65536)  # readable, and nobody else takes from it while we hold the lock
            except TimeoutError:
                return
            except OSError:
                data = b""
            if not data:
                telnet.received.end()
                return
            telnet.feed(data)

    def _wait_ready(self, items: list[Any], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not all(item.is_ready() for item in items):
            left = deadline - time.monotonic()
            if left <= 0:
                raise SerialException(f"the RFC 2217 server did not acknowledge the {what} change")
            self._pump(min(left, PUMP_SLICE_SECONDS))

    def _telnet_read_loop(self) -> None:
        """pyserial's reader thread, which `open` starts: it has nothing to do, since whoever waits reads
        the socket (see the class docstring)."""

    def close(self) -> None:
        """Close without pyserial's 0.3 s pause "for quick reconnects"; the station retries opens instead."""
        self._applied = None
        self.is_open = False
        sock: socket.socket | None = getattr(self, "_socket", None)
        self._socket = None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        thread: threading.Thread | None = getattr(self, "_thread", None)
        self._thread = None
        if thread is not None and thread is not threading.current_thread():
            thread.join(7)

    def _reconfigure_port(self) -> None:
        if self._socket is None:
            raise SerialException("Can only operate on open ports")
        if self._write_timeout is not None:
            raise NotImplementedError("write_timeout is not supported over RFC 2217")
        wanted = (self._baudrate, self._bytesize, self._parity, self._stopbits, self._rtscts, self._xonxoff)
        if wanted == self._applied:
            return  # only a read timeout changed: nothing to tell the server
        if not 0 < self._baudrate < 2**32:
            raise ValueError(f"invalid baudrate: {self._baudrate!r}")
        if self._rtscts and self._xonxoff:
            raise ValueError("xonxoff and rtscts together are not supported")
        settings = self._rfc2217_port_settings
        settings["baudrate"].set(struct.pack("!I", self._baudrate))
        settings["datasize"].set(struct.pack("!B", self._bytesize))
        settings["parity"].set(struct.pack("!B", RFC2217_PARITY_MAP[self._parity]))
        settings["stopsize"].set(struct.pack("!B", RFC2217_STOPBIT_MAP[self._stopbits]))
        self._wait_ready(list(settings.values()), self._network_timeout, "line settings")
        if self._rtscts:
            self.rfc2217_set_control(SET_CONTROL_USE_HW_FLOW_CONTROL)
        elif self._xonxoff:
            self.rfc2217_set_control(SET_CONTROL_USE_SW_FLOW_CONTROL)
        else:
            self.rfc2217_set_control(SET_CONTROL_USE_NO_FLOW_CONTROL)
        self._applied = wanted

    def rfc2217_send_purge(self, value: bytes) -> None:
        item = self._rfc2217_options["purge"]
        item.set(value)
        self._wait_ready([item], self._network_timeout, "purge")

    def rfc2217_set_control(self, value: bytes) -> None:
        item = self._rfc2217_options["control"]
        item.set(value)
        if self._ignore_set_control_answer:
            time.sleep(0.1)  # a server that does not answer control changes (pyserial's compatibility mode)
        else:
            self._wait_ready([item], self._network_timeout, "control line")
