"""One thread a simulator that hands each board's sent bytes to its host when they have crossed the wire.

A board's firmware used to sleep until each ~2 ms slice of its output had crossed the wire and then
send it itself: three sleeps and three sends for every line of a boot log at 115200 baud, for each of 64
boards sharing one simulator process and one GIL. Boots then took twice as long with 64 boards as with
one. Now the firmware queues its bytes (app/sim/uart.py, `Uart.write`) and goes on while its transmit
buffer has room, as a chip's UART driver does, and this clock sends what is due for every board at once,
at most every TICK seconds (a USB full-speed frame): a bridge, too, hands bytes on in packets.

Nothing reaches a host before its last byte would have crossed the wire; it may arrive up to a tick later.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Protocol

TICK = 0.001
IDLE_EXIT = 1.0  # a clock with nothing to send for this long stops its thread


class Sender(Protocol):
    def send_due(self, now: float) -> float | None:
        """Send what is due by `now`; when the next bytes are due, or None when none are queued."""


class TxClock:
    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._due: list[tuple[float, int, Sender]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, sender: Sender, due: float) -> None:
        """Have `sender.send_due` called once `due` has passed (a sender may be scheduled many times)."""
        entry = (due, next(self._order), sender)
        with self._cv:
            heapq.heappush(self._due, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sim-tx-clock", daemon=True)
                self._thread.start()
            elif self._due[0] is entry:
                self._cv.notify()  # earlier than anything the clock waits for

    def _run(self) -> None:
        last = time.monotonic()
        while True:
            with self._cv:
                while True:
                    now = time.monotonic()
                    if not self._due and now - last >= IDLE_EXIT:
                        self._thread = None  # the next schedule starts another
                        return
                    wake = max(self._due[0][0], last + TICK) if self._due else last + IDLE_EXIT
                    if wake <= now and self._due:
                        break
                    self._cv.wait(max(0.0, wake - now))
                last = now
                senders: dict[int, Sender] = {}
                while self._due and self._due[0][0] <= now:
                    _due, _order, sender = heapq.heappop(self._due)
                    senders[id(sender)] = sender
            for sender in senders.values():
                following = sender.send_due(now)
                if following is not None:
                    self.schedule(sender, following)


CLOCK = TxClock()
"""The simulator's clock: every board's UART in this process uses it."""
