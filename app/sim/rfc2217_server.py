"""One virtual board as an RFC 2217 serial port on loopback (`rfc2217://127.0.0.1:<port>`).

RFC 2217 (Telnet COM port control) carries the baud rate and the DTR/RTS lines as well as the data, so
esptool's reset sequences reach the board's auto-reset circuit. pyserial's `PortManager` does the Telnet
side; this module gives it a "serial port" that is the board's pins, and a filter that passes runs of
data through whole instead of byte by byte.

Like a real serial port, one client at a time: a second connection is closed at once. Unplugging stops
listening, so opening the URL fails the way opening a vanished /dev/ttyUSB0 does.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from serial.rfc2217 import IAC, M_NORMAL, PortManager

from app.sim.board import VirtualBoard

_IAC_DOUBLED = IAC + IAC
RECONNECT_GRACE = 0.5


class _BoardPins:
    """The serial-port object PortManager drives: settings and modem lines of the board's UART."""

    bytesize = 8
    parity = "N"
    stopbits = 1
    xonxoff = False
    rtscts = False
    break_condition = False
    cts = dsr = ri = cd = False

    def __init__(self, board: VirtualBoard) -> None:
        self._board = board

    @property
    def baudrate(self) -> int:
        return self._board.uart.host_baud

    @baudrate.setter
    def baudrate(self, value: int) -> None:
        if value > 0:
            self._board.uart.host_baud = value

    @property
    def dtr(self) -> bool:
        return self._board.lines[0]

    @dtr.setter
    def dtr(self, value: bool) -> None:
        self._board.set_lines(dtr=value)

    @property
    def rts(self) -> bool:
        return self._board.lines[1]

    @rts.setter
    def rts(self, value: bool) -> None:
        self._board.set_lines(rts=value)

    def reset_input_buffer(self) -> None:
        pass  # nothing is buffered between the board and the network

    def reset_output_buffer(self) -> None:
        pass


_TIMEVAL = struct.Struct("@qq")  # struct timeval of SCM_TIMESTAMP on 64-bit Linux and macOS
_LINUX = sys.platform.startswith("linux")
_LINUX_SO_TIMESTAMP = 29  # <asm-generic/socket.h>; Python's socket module does not name it


def _timestamped_receiver(sock: socket.socket) -> Callable[[], tuple[bytes, float]]:
    """`recv` that also says when the bytes reached this machine (time.monotonic), from the kernel's
    receive timestamp where there is one: the moment the host sent them, which is when a USB bridge
    would have started putting them on the wire. The time this thread woke to take them (the fallback)
    is later by however long a busy machine kept it waiting, and that wait would count as wire time."""
    option: int | None = getattr(socket, "SO_TIMESTAMP", _LINUX_SO_TIMESTAMP if _LINUX else None)
    if option is None or not hasattr(sock, "recvmsg") or _TIMEVAL.size != 16:
        return lambda: (sock.recv(65536), time.monotonic())
    try:
        sock.setsockopt(socket.SOL_SOCKET, option, 1)
    except OSError:
        return lambda: (sock.recv(65536), time.monotonic())
    space = socket.CMSG_SPACE(_TIMEVAL.size)

    def receive() -> tuple[bytes, float]:
        data, ancillary, _flags, _address = sock.recvmsg(65536, space)
        now_mono, now_wall = time.monotonic(), time.time()
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == option and len(value) >= _TIMEVAL.size:
                seconds, micros = _TIMEVAL.unpack_from(value)
                waited = now_wall - (seconds + micros / 1e6)
                return data, now_mono - min(max(waited, 0.0), 1.0)
        return data, now_mono

    return receive


BACKLOG_LIMIT = 256 * 1024
"""Bytes a connection holds for a host that is not reading; past this its board's output is dropped."""
_SEND_NOW = getattr(socket, "MSG_DONTWAIT", 0)  # Linux, macOS; elsewhere a stopped host still blocks sends


class _Connection:
    """Thread-safe writer PortManager answers through; board data goes through the same lock.

    Every board's output is sent from the simulator's one transmit clock (app/sim/tx_clock.py), so a
    host that stops reading (a serial monitor suspended with Ctrl-Z, a stopped station) must not block
    the write: it would stall every board. A write goes straight to the socket when it has room (nearly
    always); what does not fit waits in this connection's backlog, which a thread of its own sends as
    the host reads, in order. While the backlog is full (BACKLOG_LIMIT) further writes are dropped whole,
    as a USB-UART bridge drops what its host does not read, never cut in the middle of an escaped 0xFF
    or a Telnet command; `dropped` counts the bytes lost.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._lock = threading.Lock()
        self._backlog = bytearray()  # not empty exactly while its sender thread runs
        self.dropped = 0

    def write(self, data: bytes) -> None:
        with self._lock:
            if self._backlog:
                if len(self._backlog) + len(data) > BACKLOG_LIMIT:
                    self.dropped += len(data)
                else:
                    self._backlog += data
                return
            try:
                sent = self.sock.send(data, _SEND_NOW)
            except BlockingIOError:
                sent = 0
            if sent < len(data):
                self._backlog += data[sent:]
                threading.Thread(target=self._send_backlog, name="sim-backlog", daemon=True).start()

    def _send_backlog(self) -> None:
        """Send the backlog as the host makes room (blocking: this thread is the connection's own)."""
        while True:
            with self._lock:
                if not self._backlog:
                    return
                data = bytes(self._backlog)
            try:
                self.sock.sendall(data)
            except OSError:  # the host went away: the connection thread ends the session
                with self._lock:
                    self.dropped += len(self._backlog)
                    self._backlog.clear()
                return
            with self._lock:
                del self._backlog[: len(data)]


class _FastPortManager(PortManager):  # type: ignore[misc]
    """PortManager whose data path handles whole runs between IAC bytes (MiB-sized flash images).

    A 0xFF in the data comes doubled (IAC IAC), about every 256 bytes of compressed flash data; such a
    pair is taken here as the one data byte it stands for, so pyserial's per-byte filter only sees real
    Telnet commands. A chunk that holds no command at all (every 0xFF in it doubled: a block of flash
    data, nearly always) is undoubled in one pass.
    """

    def filter(self, data: bytes) -> Iterator[bytes]:
        if self.mode == M_NORMAL and self.suboption is None and IAC not in data.replace(_IAC_DOUBLED, b""):
            yield data.replace(_IAC_DOUBLED, IAC)
            return
        pos = 0
        end = len(data)
        parent = super().filter
        while pos < end:
            if self.mode == M_NORMAL and self.suboption is None:
                found = data.find(IAC, pos)
                if found < 0:
                    yield data[pos:]
                    return
                if data[found + 1 : found + 2] == IAC:
                    yield data[pos : found + 1]  # the run and one 0xFF
                    pos = found + 2
                    continue
                if found > pos:
                    yield data[pos:found]
                pos = found
            yield from parent(data[pos : pos + 1])
            pos += 1


class BoardServer:
    def __init__(self, board: VirtualBoard, host: str = "127.0.0.1", port: int = 0) -> None:
        self.board = board
        self.host = host
        self.port = port
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self._lock = threading.RLock()
        self._released = threading.Condition(self._lock)
        self._threads: list[threading.Thread] = []
        self.on_unplug: Callable[[BoardServer], None] | None = None
        self.on_replug: Callable[[BoardServer], None] | None = None
        board.on_vanish = self.unplug

    @property
    def url(self) -> str:
        return f"rfc2217://{self.host}:{self.port}"

    @property
    def plugged(self) -> bool:
        return self._listener is not None

    def start(self) -> None:
        """Listen (on the same port again after an unplug) and power the board on."""
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port))
            listener.listen(2)
            self.port = listener.getsockname()[1]
            self._listener = listener
        self._spawn(self._accept_loop, listener)
        self.board.power_on()

    def replug(self) -> None:
        self.start()
        if self.on_replug is not None:
            self.on_replug(self)

    def unplug(self) -> None:
        """The USB cable is pulled: the port disappears and the board loses power."""
        with self._lock:
            listener, client = self._listener, self._client
            self._listener = self._client = None
        if listener is None:
            return
        self.board.power_off()
        for sock in (listener, client):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        if self.on_unplug is not None:
            self.on_unplug(self)

    def close(self) -> None:
        self.on_unplug = None
        self.unplug()
        current = threading.current_thread()
        for thread in self._threads:
            if thread is not current:
                thread.join(timeout=5)
        self._threads.clear()
        self.board.close()

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=f"sim-{self.board.name}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return  # unplugged or closed
            if not self._claim(sock, listener):
                sock.close()  # the port is already open elsewhere
                continue
            self._spawn(self._serve, sock)

    def _claim(self, sock: socket.socket, listener: socket.socket) -> bool:
        """Take `sock` as the client; a client that is just closing gets a moment to finish."""
        deadline = time.monotonic() + RECONNECT_GRACE
        with self._released:
            while self._client is not None and self._listener is listener:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._released.wait(left)
            if self._listener is not listener:
                return False
            self._client = sock
            return True

    def _serve(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = _Connection(sock)
        manager = _FastPortManager(_BoardPins(self.board), connection)
        uart = self.board.uart
        uart.attach(lambda data: connection.write(data.replace(IAC, _IAC_DOUBLED)))
        receive = _timestamped_receiver(sock)
        try:
            while True:
                chunk, arrived = receive()
                if not chunk:
                    break
                data = b"".join(manager.filter(chunk))
                if data:
                    uart.host_data(data, arrived)
        except OSError:
            pass
        finally:
            uart.detach()
            with self._released:
                if self._client is sock:
                    self._client = None
                self._released.notify_all()
            with contextlib.suppress(OSError):
                sock.close()
            self.board.port_closed()
