"""What arrives from an RFC 2217 server, taken apart in runs rather than byte by byte.

pyserial's client walks every received byte in Python and puts each data byte into a `queue.Queue` of its
own, which every `read` then takes out again one `get` at a time: about 10 µs of CPU per byte on both
threads together. A port worker reads the board's boot log, the IEF exchange and every flash answer that
way, and with 64 workers on a 2-core station that CPU competes with the wire. Here the data between Telnet
commands is found with `bytes.find` and handed over as whole chunks; the Telnet commands themselves (rare:
a settings acknowledgement, a modem-line notification, a doubled 0xFF in the data) still go through the
same per-byte state machine as pyserial's, and its handlers answer them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Protocol

from serial.rfc2217 import DO, DONT, IAC, SB, SE, WILL, WONT

_NORMAL = 0
_IAC_SEEN = 1
_NEGOTIATE = 2
_NEGOTIATIONS = (DO, DONT, WILL, WONT)


class ReceivedBytes:
    """The bytes received and not yet read, as chunks, with their total kept (for `in_waiting`).

    One thread puts (the socket reader), any thread takes; `end` marks the connection as gone, after
    which a read returns what is left and then nothing.
    """

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self.ended = False

    def put(self, data: bytes) -> None:
        if not data:
            return
        with self._cv:
            self._chunks.append(data)
            self._size += len(data)
            self._cv.notify_all()

    def end(self) -> None:
        with self._cv:
            self.ended = True
            self._cv.notify_all()

    def available(self) -> int:
        return self._size

    def clear(self) -> None:
        with self._cv:
            self._chunks.clear()
            self._size = 0

    def take(self, size: int, timeout: float | None) -> bytes:
        """Up to `size` bytes: as soon as `size` have arrived, else what there is after `timeout` seconds
        (None: wait for all of them, or for the connection to end), as pyserial's `read` does."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cv:
            while self._size < size and not self.ended:
                if deadline is None:
                    self._cv.wait()
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cv.wait(left)
            return self._pop(size)

    def _pop(self, size: int) -> bytes:
        parts: list[bytes] = []
        wanted = size
        while wanted > 0 and self._chunks:
            chunk = self._chunks.popleft()
            if len(chunk) > wanted:
                self._chunks.appendleft(chunk[wanted:])
                chunk = chunk[:wanted]
            parts.append(chunk)
            wanted -= len(chunk)
        self._size -= size - wanted
        return b"".join(parts)


class TelnetHandlers(Protocol):
    """pyserial's handlers for what the server says besides data (its RFC 2217 `Serial` has them)."""

    def _telnet_process_command(self, command: bytes) -> None: ...

    def _telnet_negotiate_option(self, command: bytes, option: bytes) -> None: ...

    def _telnet_process_subnegotiation(self, suboption: bytes) -> None: ...


class TelnetInput:
    """The client's receive side: data goes to `received`, Telnet commands to `handlers`, in order."""

    def __init__(self, received: ReceivedBytes, handlers: TelnetHandlers) -> None:
        self.received = received
        self._handlers = handlers
        self._mode = _NORMAL
        self._suboption: bytearray | None = None
        self._command = b""

    def feed(self, data: bytes) -> None:
        """Take apart one piece of the stream, which may end anywhere (inside a command too)."""
        pos = 0
        end = len(data)
        run: list[bytes] = []
        while pos < end:
            if self._mode == _NORMAL and self._suboption is None:
                found = data.find(IAC, pos)
                if found < 0:
                    run.append(data[pos:])
                    break
                run.append(data[pos:found])
                pos = found
            byte = data[pos : pos + 1]
            pos += 1
            literal = self._step(byte)
            if literal:
                run.append(literal)
        self.received.put(b"".join(run))

    def _step(self, byte: bytes) -> bytes:
        """One byte through the Telnet state machine; the data byte it stands for, if any."""
        mode, self._mode = self._mode, _NORMAL
        if mode == _NEGOTIATE:
            self._handlers._telnet_negotiate_option(self._command, byte)
            return b""
        if mode == _NORMAL:
            if byte == IAC:
                self._mode = _IAC_SEEN
                return b""
            return self._data(byte)
        # after IAC
        if byte == IAC:
            return self._data(IAC)
        if byte == SB:
            self._suboption = bytearray()
        elif byte == SE:
            suboption, self._suboption = self._suboption, None
            self._handlers._telnet_process_subnegotiation(bytes(suboption or b""))
        elif byte in _NEGOTIATIONS:
            self._command = byte
            self._mode = _NEGOTIATE
        else:
            self._handlers._telnet_process_command(byte)
        return b""

    def _data(self, byte: bytes) -> bytes:
        """A data byte: part of the current subnegotiation, or of the stream."""
        if self._suboption is not None:
            self._suboption += byte
            return b""
        return byte
