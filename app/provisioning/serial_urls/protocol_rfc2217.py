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

Opening still runs pyserial's own negotiation, which checks for the server's answers every 50 ms: at
least 50 ms of every open, and a multiple of it when a loaded server answers late. Its module sees the
`time` of `_PollingTime` instead, whose sleeps are at most POLL_SECONDS: the same loops, polling each
millisecond.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
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

POLL_SECONDS = 0.001
HANDOVER_SECONDS = 0.005  # how soon the reader thread notices that `open` is done with it
PUMP_SLICE_SECONDS = 0.05  # a reader waiting for data looks again at least this often (another may take it)


class _PollingTime:
    """The `time` module for pyserial's RFC 2217 code: the same, but no sleep longer than POLL_SECONDS
    (each of its sleeps is a poll for the server's answer; see the module docstring)."""

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(min(seconds, POLL_SECONDS))

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


serial.rfc2217.time = _PollingTime()


class Serial(_PyserialRfc2217):  # type: ignore[misc]
    """pyserial's RFC 2217 client, quick to change settings and read in the reading thread.

    pyserial's reader thread stays for the negotiation inside `open`; then it stops and whoever reads
    (or waits for an acknowledgement) takes what has arrived from the socket itself. A board's answer
    used to wake the reader thread, which then woke the reader: two threads to schedule for each of the
    ~150 round trips of a board's run, on a station where 64 boards compete for two CPUs.
    """

    _applied: tuple[Any, ...] | None = None
    _input: TelnetInput | None = None
    _inline = False  # True once the reader thread has handed the socket over
    _pump_lock: threading.Lock

    def open(self) -> None:
        self._applied = None
        self._inline = False
        self._pump_lock = threading.Lock()
        self._input = TelnetInput(ReceivedBytes(), self)  # before the reader thread starts
        super().open()
        self._inline = True  # the reader thread sees it within HANDOVER_SECONDS and stops
        thread: threading.Thread | None = getattr(self, "_thread", None)
        if thread is not None and thread is not threading.current_thread():
            thread.join()
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

    def _received(self) -> ReceivedBytes:
        if not self.is_open or self._input is None:
            raise PortNotOpenError()
        return self._input.received

    def _pump(self, seconds: float) -> None:
        """Take apart what the socket holds, waiting up to `seconds` for something to come (inline
        mode only: before that the reader thread does it, and this only waits)."""
        sock: socket.socket | None = self._socket
        telnet = self._input
        if not self._inline or sock is None or telnet is None:
            time.sleep(min(seconds, POLL_SECONDS))
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
            if time.monotonic() >= deadline:
                raise SerialException(f"the RFC 2217 server did not acknowledge the {what} change")
            self._pump(POLL_SECONDS)

    def _telnet_read_loop(self) -> None:
        """The socket reader thread while `open` negotiates: pyserial's loop, with the data handed over
        in runs, until the readers take the socket over."""
        sock: socket.socket | None = self._socket
        telnet = self._input
        assert telnet is not None
        ended = True
        try:
            while self.is_open and sock is not None:
                if self._inline:
                    ended = False  # the socket is the readers' now, with whatever it still holds
                    break
                if not readable(sock, HANDOVER_SECONDS):
                    continue
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data:
                    break  # the server closed the connection
                telnet.feed(data)
        finally:
            if ended:
                telnet.received.end()

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
