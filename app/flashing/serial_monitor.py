"""The board's console, line by line: reset it into its firmware and pass on what it prints.

Lines are cleaned as the IEF session cleans them (NULs and carriage returns dropped, undecodable bytes
shown as U+FFFD) and handed to `mask` before anyone sees them, so a secret the board might echo (the
WiFi password) never reaches a terminal, a file or a screenshot. The loop ends when `stopped()` says so
or `seconds` have passed; the port is always closed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import serial

from app.flashing.flash_errors import BoardNotFoundError, BoardVanishedError

CONSOLE_BAUD = 115200
RESET_PULSE_S = 0.1


def monitor(
    url: str,
    on_line: Callable[[str], None],
    *,
    mask: Callable[[str], str] = lambda text: text,
    stopped: Callable[[], bool] = lambda: False,
    seconds: float | None = None,
    reset: bool = True,
    baud: int = CONSOLE_BAUD,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Show the console of the board on `url`; return the number of lines shown."""
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
        if reset:
            port.rts = True  # EN low with IO0 released: a reset into the flashed firmware
            time.sleep(RESET_PULSE_S)
            port.rts = False
        while not stopped() and (deadline is None or clock() < deadline):
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
