"""The board's UART as a wire: bytes take their time at the baud rate, and faults happen on it.

The host side (the RFC 2217 connection thread) hands in bytes as they arrive from the network; they
become readable by the board in pieces of ~2 ms of wire time (as a USB bridge hands them on), each piece
when its last byte would have finished arriving at the host's baud rate. Which bytes are readable is
worked out from each chunk's start time and rate rather than kept as one queue entry per piece: at
921600 baud a flash image was thousands of entries per board, walked by the board's every read.
Bytes the board sends are held back the same way at the board's baud rate, by the simulator's
transmit clock (app/sim/tx_clock.py). With pacing off, both happen at once (fast tests). A baud-rate
mismatch between the two ends garbles bytes, as it would on a real wire, and bytes sent while the chip
is held in reset are lost.

Everything the board's firmware does blocks here, so a reset (or unplugging) interrupts it: every wait
checks the "generation" the firmware started in and raises `Interrupted` when it has moved on.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from app.sim.faults import Faults
from app.sim.tx_clock import CLOCK, TICK

BITS_PER_BYTE = 10  # 8N1: start bit, 8 data bits, stop bit
_RX_PIECE_SECONDS = 0.002  # host bytes become readable in pieces of about this much wire time
_MIN_RX_PIECE = 64
_TX_SLICE_SECONDS = 0.002
_INLINE_SECONDS = 0.002  # an answer this short on an idle line is sent by the firmware's thread itself
_TX_BUFFER_BYTES = 1024  # a UART driver's transmit buffer: the firmware blocks only when it is full
_IDLE_SLACK = 0.002
_BAUD_TOLERANCE = 0.04


class Interrupted(Exception):
    """The firmware's run ended: the chip was reset, powered off or the simulator is closing."""


def garble(data: bytes) -> bytes:
    """What bytes look like when read at the wrong baud rate: deterministic junk, never SLIP END."""
    return bytes(((b * 73 + 41) & 0xFF) if ((b * 73 + 41) & 0xFF) != 0xC0 else 0x3F for b in data)


class _Arrival:
    """One chunk from the host on the wire: its bytes are readable piece by piece from `start`."""

    __slots__ = ("byte_seconds", "data", "piece", "start", "taken")

    def __init__(self, data: bytes, start: float, byte_seconds: float, piece: int) -> None:
        self.data = data
        self.start = start  # when its first byte starts arriving
        self.byte_seconds = byte_seconds  # wire time per byte (0 without pacing)
        self.piece = piece
        self.taken = 0  # bytes the board has read already

    @property
    def end(self) -> float:
        return self.start + len(self.data) * self.byte_seconds

    def arrived(self, now: float) -> int:
        """How many of its bytes (read or not) are readable at `now`: whole pieces, or all of it."""
        size = len(self.data)
        if self.byte_seconds <= 0 or now >= self.start + size * self.byte_seconds:
            return size
        on_wire = int((now - self.start) / self.byte_seconds)
        return min(size, on_wire - on_wire % self.piece)

    def ready_at(self, position: int) -> float:
        """When the byte at `position` becomes readable: when its piece has fully arrived."""
        last = min(len(self.data), (position // self.piece + 1) * self.piece)
        return self.start + last * self.byte_seconds


class Uart:
    def __init__(self, faults: Faults, pacing: bool = True) -> None:
        self.faults = faults
        self.pacing = pacing
        self._cv = threading.Condition()
        self._rx: deque[_Arrival] = deque()
        self._rx_free = 0.0
        self._reader_needs_data = False  # the board waits for bytes that have not come yet (not for a time)
        self._tx_free = 0.0
        self._tx: deque[tuple[float, bytes]] = deque()  # queued output: (when it has crossed, bytes)
        self._tx_lock = threading.Lock()
        self._send: Callable[[bytes], None] | None = None
        self._send_lock = threading.Lock()
        self.generation = 0
        self.receiving = True  # False while the chip is held in reset or powered off
        self.host_baud = 115200
        self.board_baud: int | None = None  # None: the ROM auto-detects the host's rate
        self.rx_bytes = 0  # wire bytes from the host since plug-in (after drops)
        self.tx_bytes = 0  # wire bytes to the host since plug-in
        self.rx_seen = 0  # bytes that passed the fault filters (the every-Nth counters)
        self.tx_seen = 0
        self.on_rx_limit: Callable[[], None] | None = None

    # ----------------------------------------------------------------- host side
    def attach(self, send: Callable[[bytes], None]) -> None:
        with self._send_lock:
            self._send = send

    def detach(self) -> None:
        with self._send_lock:
            self._send = None

    def host_data(self, data: bytes, arrived: float | None = None) -> None:
        """Bytes from the host; called by the connection thread in arrival order. `arrived` is when
        they reached the machine (time.monotonic), if known: their wire time starts then, not when the
        connection thread got round to them."""
        data = self._rx_faults(data)
        limit = self.faults.vanish_at_rx_byte
        hit_limit = False
        if limit is not None and self.rx_bytes + len(data) >= limit:
            data = data[: max(0, limit - self.rx_bytes)]
            hit_limit = True
        with self._cv:
            self.rx_bytes += len(data)
            if self.receiving and data:
                if self._mismatched():
                    data = garble(data)
                baud = self.host_baud
                piece = max(_MIN_RX_PIECE, int(baud / BITS_PER_BYTE * _RX_PIECE_SECONDS))
                byte_seconds = BITS_PER_BYTE / baud if self.pacing else 0.0
                start = time.monotonic() if arrived is None else arrived
                arrival = _Arrival(data, max(start, self._rx_free), byte_seconds, piece)
                self._rx.append(arrival)
                self._rx_free = arrival.end
                if self._reader_needs_data:
                    self._cv.notify_all()  # a reader already waiting for its bytes' time needs no wake
        if hit_limit and self.on_rx_limit is not None:
            self.faults.vanish_at_rx_byte = None
            self.on_rx_limit()

    def _rx_faults(self, data: bytes) -> bytes:
        corrupt, drop = self.faults.corrupt_rx_every, self.faults.drop_rx_every
        if not corrupt and not drop:
            self.rx_seen += len(data)
            return data
        out = bytearray()
        for byte in data:
            self.rx_seen += 1
            if drop and self.rx_seen % drop == 0:
                continue
            out.append(byte ^ 1 if corrupt and self.rx_seen % corrupt == 0 else byte)
        return bytes(out)

    def _mismatched(self) -> bool:
        """Bytes are garbled: the two ends disagree on the rate, or it is above what the bridge carries."""
        limit = self.faults.max_baud
        if limit is not None and self.host_baud > limit:
            return True
        board = self.board_baud
        return board is not None and abs(self.host_baud - board) > board * _BAUD_TOLERANCE

    # ----------------------------------------------------------------- board side
    def interrupt(self, receiving: bool) -> None:
        """End the firmware's current run (reset / power change); pending input is lost."""
        with self._cv:
            self.generation += 1
            self.receiving = receiving
            self._rx.clear()
            self._cv.notify_all()

    def set_receiving(self, receiving: bool) -> None:
        with self._cv:
            self.receiving = receiving

    def _check(self, generation: int) -> None:
        if generation != self.generation:
            raise Interrupted

    def read(self, generation: int, max_bytes: int, timeout: float | None, until: int | None = None) -> bytes:
        """Up to `max_bytes` that have fully arrived; b"" after `timeout` seconds with nothing.

        With `until` (a byte value), the read returns once that byte or `max_bytes` bytes have arrived
        (or at the timeout, with whatever has): a reader that acts on whole frames, like the ROM on SLIP
        packets, then wakes once per frame instead of once per 64-byte piece, and sees each frame at
        the moment its last byte arrives, as before.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cv:
            while True:
                self._check(generation)
                now = time.monotonic()
                ready_at = self._ready_at(until, max_bytes)
                if ready_at is not None and ready_at <= now:
                    return self._take(now, max_bytes)
                if deadline is not None and now >= deadline:
                    return self._take(now, max_bytes)
                waits = [t - now for t in (deadline, ready_at) if t is not None]
                self._reader_needs_data = ready_at is None
                try:
                    self._cv.wait(min(waits) if waits else None)
                finally:
                    self._reader_needs_data = False

    def _ready_at(self, until: int | None, max_bytes: int) -> float | None:
        """When a read can return: the first piece's arrival, or that of the piece completing the wait."""
        if not self._rx:
            return None
        if until is None:
            first = self._rx[0]
            return first.ready_at(first.taken)
        total = 0
        for arrival in self._rx:
            size = len(arrival.data) - arrival.taken
            found = arrival.data.find(until, arrival.taken)
            if total + size >= max_bytes and (found < 0 or found - arrival.taken >= max_bytes - total):
                return arrival.ready_at(arrival.taken + max_bytes - total - 1)
            if found >= 0:
                return arrival.ready_at(found)
            total += size
        return None  # not here yet: host_data will notify

    def _take(self, now: float, max_bytes: int) -> bytes:
        parts: list[bytes] = []
        room = max_bytes
        while self._rx and room > 0:
            arrival = self._rx[0]
            count = min(arrival.arrived(now) - arrival.taken, room)
            if count <= 0:
                break
            parts.append(arrival.data[arrival.taken : arrival.taken + count])
            arrival.taken += count
            room -= count
            if arrival.taken < len(arrival.data):
                break  # the rest of this chunk is still on the wire, or not wanted
            self._rx.popleft()
        return b"".join(parts)

    def pending(self) -> int:
        """Bytes that have fully arrived and not been read yet."""
        now = time.monotonic()
        with self._cv:
            return sum(a.arrived(now) - a.taken for a in self._rx)

    def discard_input(self) -> None:
        with self._cv:
            self._rx.clear()

    def sleep(self, generation: int, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with self._cv:
            while True:
                self._check(generation)
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._cv.wait(left)

    def write(self, generation: int, data: bytes) -> None:
        """Send bytes at the board's baud rate, faults applied. Like a UART driver with a transmit
        buffer, this returns once the bytes are queued and blocks only while the buffer is full; the
        simulator's clock (app/sim/tx_clock.py) hands them to the host as they cross the wire."""
        self._check(generation)
        data = self._tx_faults(data)
        if self._mismatched():
            data = garble(data)
        baud = self.board_baud or self.host_baud
        if not self.pacing:
            self._emit(data)
            return
        byte_seconds = BITS_PER_BYTE / baud
        if self._answered_inline(generation, data, byte_seconds):
            return
        room = max(_TX_BUFFER_BYTES * byte_seconds, 2 * TICK)  # how far ahead of the wire it may queue
        step = max(16, int(baud / BITS_PER_BYTE * _TX_SLICE_SECONDS))
        for pos in range(0, len(data), step):
            piece = data[pos : pos + step]
            now = time.monotonic()
            if self._tx_free - now > room:
                self.sleep(generation, self._tx_free - now - room)
                now = time.monotonic()
            self._check(generation)
            with self._tx_lock:
                end = self._tx_free = self._crossed_at(now, len(piece), byte_seconds)
                self._tx.append((end, piece))
                first = len(self._tx) == 1
            if first:
                CLOCK.schedule(self, end)

    def _answered_inline(self, generation: int, data: bytes, byte_seconds: float) -> bool:
        """A short answer on an idle line (the loader's reply to a command) is sent by the firmware's
        own thread once it has crossed, as before the clock: through the clock it took two of the
        clock's wake-ups, on every round trip of a flash write."""
        now = time.monotonic()
        with self._tx_lock:
            if self._tx:
                return False  # output is queued: behind it, in order
            end = self._crossed_at(now, len(data), byte_seconds)
            if end - now > _INLINE_SECONDS:
                return False
            self._tx_free = end
        self.sleep(generation, end - now)
        self._emit(data)
        return True

    def _crossed_at(self, now: float, size: int, byte_seconds: float) -> float:
        """When `size` bytes sent now would have crossed the wire: right behind output that ended less
        than _IDLE_SLACK ago (a stream goes on), otherwise from now. Called with `_tx_lock` held."""
        start = self._tx_free if self._tx_free > now - _IDLE_SLACK else now
        return start + size * byte_seconds

    def send_due(self, now: float) -> float | None:
        """The clock's call: send every queued piece whose last byte has crossed the wire by `now`."""
        due: list[bytes] = []
        with self._tx_lock:
            while self._tx and self._tx[0][0] <= now:
                due.append(self._tx.popleft()[1])
            following = self._tx[0][0] if self._tx else None
        if due:
            self._emit(b"".join(due))
        return following

    def flushed(self) -> bool:
        """True once every byte written has been handed to the host (tests)."""
        with self._tx_lock:
            return not self._tx

    def _tx_faults(self, data: bytes) -> bytes:
        corrupt, drop = self.faults.corrupt_tx_every, self.faults.drop_tx_every
        if not corrupt and not drop:
            self.tx_seen += len(data)
            return data
        out = bytearray()
        for byte in data:
            self.tx_seen += 1
            if drop and self.tx_seen % drop == 0:
                continue
            out.append(byte ^ 1 if corrupt and self.tx_seen % corrupt == 0 else byte)
        return bytes(out)

    def _emit(self, data: bytes) -> None:
        with self._send_lock:
            self.tx_bytes += len(data)
            send = self._send
            if send is None:
                return  # nobody has the port open: the bytes are lost, as on a closed USB-UART
            try:
                send(data)
            except OSError:
                self._send = None
