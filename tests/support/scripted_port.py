"""A board's side of a UART as a script of byte pieces, with a clock that moves only while it is silent.

For code that reads a serial port under time limits (the IEF session): a transcript that never finishes
times out in no real time, and a test never sleeps.
"""

from __future__ import annotations


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class ScriptedPort:
    """A pyserial-like port whose far end is a list of byte pieces; silence advances the clock."""

    def __init__(self, pieces: list[bytes], clock: Clock) -> None:
        self.timeout: float | None = None
        self._pieces = list(reversed(pieces))
        self._clock = clock
        self.written: list[bytes] = []

    @property
    def in_waiting(self) -> int:
        return len(self._pieces[-1]) if self._pieces else 0

    def read(self, size: int = 1) -> bytes:
        if not self._pieces:
            self._clock.now += self.timeout or 0.05
            return b""
        piece = self._pieces.pop()
        if len(piece) > size:
            self._pieces.append(piece[size:])
            piece = piece[:size]
        self._clock.now += 0.001
        return piece

    def write(self, data: bytes, /) -> int:
        self.written.append(data)
        return len(data)
