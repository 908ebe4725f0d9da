"""The board's console, line by line: reset it (into its firmware or into download mode) and pass on what
it prints.

Lines are cleaned as the IEF session cleans them (NULs and carriage returns dropped, undecodable bytes
shown as U+FFFD) and handed to `mask` before anyone sees them, so a secret the board might echo (the
WiFi password) never reaches a terminal, a file or a screenshot. A `MonitorControl` lets another thread
(a GUI button, the terminal's key reader) ask for a reset or the end while the loop reads; the loop
ends when the control says so or `seconds` have passed; the port is always closed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import Any

import serial

from app.flashing.flash_errors import BoardNotFoundError, BoardVanishedError

CONSOLE_BAUD = 115200
RESET_PULSE_S = 0.1
STRAP_HOLD_S = 0.05  # IO0 held low this long after EN rises, as esptool's classic reset does


class ResetKind(Enum):
    FIRMWARE = "firmware"  # EN pulsed with IO0 released: the flashed firmware starts
    DOWNLOAD = "download"  # EN pulsed with IO0 held low: the ROM waits for a flasher
    NONE = "none"


class MonitorControl:
    """Requests from other threads to a running monitor: reset the board, or stop. Thread-safe."""

    def __init__(self) -> None:
        self._resets: deque[ResetKind] = deque()
        self._stop = threading.Event()

    def reset(self, kind: ResetKind) -> None:
        if kind is not ResetKind.NONE:
            self._resets.append(kind)

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        return self._stop.wait(seconds)

    def next_reset(self) -> ResetKind | None:
        try:
            return self._resets.popleft()
        except IndexError:
            return None


def pulse_reset(port: Any, kind: ResetKind) -> None:
    """The usual auto-reset circuit: RTS drives EN (low = reset), DTR drives IO0 (low = download)."""
    if kind is ResetKind.NONE:
        return
    port.dtr = False
    port.rts = True  # EN low
    time.sleep(RESET_PULSE_S)
    if kind is ResetKind.DOWNLOAD:
        port.dtr = True  # IO0 low while EN rises
        port.rts = False
        time.sleep(STRAP_HOLD_S)
        port.dtr = False
    else:
        port.rts = False


def monitor(
    url: str,
    on_line: Callable[[str], None],
    *,
    mask: Callable[[str], str] = lambda text: text,
    control: MonitorControl | None = None,
    seconds: float | None = None,
    reset: ResetKind = ResetKind.FIRMWARE,
    baud: int = CONSOLE_BAUD,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Show the console of the board on `url`; return the number of lines shown."""
    control = control or MonitorControl()
    try:
        port = serial.serial_for_url(url, do_not_open=True)
        port.baudrate = baud
        port.timeout = 0.05
        port.dtr = False  # opening must not hold the chip in reset or in download mode
        port.rts = False
        port.open()
    except (serial.SerialException, OSError, ValueError) as exc:
        raise BoardNotFoundError(f"cannot open {url}: {exc}; check the board is plugged in") from None
    deadline = None if seconds is None else clock() + seconds
    shown = 0
    pending = b""
    try:
        pulse_reset(port, reset)
        while not control.stopped and (deadline is None or clock() < deadline):
            kind = control.next_reset()
            if kind is not None:
                pulse_reset(port, kind)
            pending += port.read(max(1, port.in_waiting))
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                on_line(mask(_clean(raw)))
                shown += 1
        if pending:
            on_line(mask(_clean(pending)))
            shown += 1
    except (serial.SerialException, OSError) as exc:
        raise BoardVanishedError(f"the board on {url} went away during the monitor ({exc})") from None
    finally:
        port.close()
    return shown


def _clean(raw: bytes) -> str:
    return raw.replace(b"\r", b"").replace(b"\x00", b"").decode("utf-8", "replace")
