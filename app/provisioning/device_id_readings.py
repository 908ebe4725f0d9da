"""Is the DeviceID the board sent the one it meant? A second reading from its own log decides.

The `deviceID:<64 hex>` line crosses a UART that can flip bits (a long cable, a noisy USB adapter). A
flipped low bit turns many hex digits into other hex digits, so a damaged ID still parses, and pushing
it would put a device in the batch that does not exist while the real one can never enrol. The IEF logs
its DeviceID in an ESP-IDF line before it sends the request (`I (812) IEF: DeviceID 9f86...`), which is
an independent copy sent at another time: two readings that agree character for character are
trusted; two that are close but differ mean one of them was damaged, and nothing can be trusted.

"Close" is measured per 64-character window of each recent log line: two unrelated SHA-256 values
agree in about 4 of 64 positions, so a window that agrees in half or more is a copy of the same ID.
A board whose log never shows its ID (a quiet release build) gives a single reading, which is accepted
and said so.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

from app.domain.device_id import DEVICE_ID_LENGTH, DeviceID

KEPT_LINES = 32
SAME_ID_MIN_AGREEMENT = DEVICE_ID_LENGTH // 2
_HEX = frozenset("0123456789abcdefABCDEF")


class ReadingCheck(Enum):
    CONFIRMED = "confirmed"  # the board's log shows the same ID
    SINGLE = "single reading"  # the log never showed it: nothing to compare with
    DAMAGED = "damaged"  # the log shows a close but different ID: one of the copies was damaged


@dataclass(frozen=True)
class ReadingVerdict:
    check: ReadingCheck
    logged: str = ""  # the log's copy, as received (for the message)

    def explain(self, device_id: DeviceID) -> str:
        if self.check is ReadingCheck.DAMAGED:
            return (
                f"the DeviceID was damaged on the UART: the board's request says {device_id}, its own log "
                f"says {self.logged}; it cannot be trusted, so it was not acknowledged or pushed. Check the "
                "USB cable and adapter, then provision the board again"
            )
        if self.check is ReadingCheck.SINGLE:
            return "the board's log did not show its DeviceID, so it was read once only"
        return "the DeviceID matches the board's own log line"


class DeviceIdReadings:
    """Keeps the board's recent log lines and compares a received DeviceID with the copies they hold."""

    def __init__(self) -> None:
        self._lines: deque[str] = deque(maxlen=KEPT_LINES)

    def note(self, line: str) -> None:
        if len(line) >= DEVICE_ID_LENGTH:
            self._lines.append(line)

    def verdict(self, device_id: DeviceID) -> ReadingVerdict:
        """CONFIRMED if a recent line holds exactly this ID; DAMAGED if the closest copy differs."""
        best_agreement, best_copy = 0, ""
        for line in reversed(self._lines):
            for start in range(len(line) - DEVICE_ID_LENGTH + 1):
                window = line[start : start + DEVICE_ID_LENGTH]
                if window[0] not in _HEX:
                    continue
                agreement = _agreement(window.lower(), device_id)
                if agreement == DEVICE_ID_LENGTH:
                    return ReadingVerdict(ReadingCheck.CONFIRMED, window)
                if agreement > best_agreement:
                    best_agreement, best_copy = agreement, window
        if best_agreement >= SAME_ID_MIN_AGREEMENT:
            return ReadingVerdict(ReadingCheck.DAMAGED, best_copy)
        return ReadingVerdict(ReadingCheck.SINGLE)


def _agreement(window: str, device_id: str) -> int:
    return sum(1 for a, b in zip(window, device_id, strict=True) if a == b)
