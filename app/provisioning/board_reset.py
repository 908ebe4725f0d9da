"""Open a board's UART for its firmware, and reset the board into that firmware, with pyserial alone.

Used after flashing (boot), to re-enrol a running board, and by the station after it cancels a worker.
The port is opened *before* the reset on purpose: what a board prints while nobody has its port open
is lost (a USB-UART drops it), and the IEF's first request comes a few milliseconds after boot.

The reset is the classic DTR/RTS auto-reset circuit of ESP32 dev boards (as esptool's hard reset):
with DTR released (IO0 high, so the chip boots from flash), RTS pulls EN low for 100 ms, then lets go.
A board on the chip's own USB-Serial/JTAG re-enumerates on reset, and a `socket://` port has no modem
lines at all; both are reported, not hidden (see `reset_into_firmware`).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import serial

from app.flashing.flash_errors import BoardNotFoundError, BoardVanishedError

FIRMWARE_BAUD = 115200
EN_LOW_SECONDS = 0.1
OPEN_PATIENCE = 2.0
OPEN_RETRY_PAUSE = 0.05
_NO_MODEM_LINES = ("socket://", "loop://")


def open_uart(
    url: str, baud: int = FIRMWARE_BAUD, read_timeout: float = 0.05, patience: float = OPEN_PATIENCE
) -> Any:
    """The board's UART at the firmware's baud rate, with DTR and RTS released from the first moment.

    Retried for `patience` seconds: right after another connection closed, the port (or the RFC 2217
    server behind a URL) may not be free yet.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            port = serial.serial_for_url(url, do_not_open=True, exclusive=True)
            _set_for_firmware(port, baud, read_timeout)
            port.open()
            return port
        except (serial.SerialException, OSError, ValueError) as error:
            if time.monotonic() >= deadline or isinstance(error, ValueError):
                raise BoardNotFoundError(
                    f"cannot open {url} to talk to the board's firmware: {_reason(error)}. Check the board "
                    "is plugged in and that no other program holds the port"
                ) from None
        time.sleep(OPEN_RETRY_PAUSE)


def prepared_uart(port: Any, url: str, baud: int = FIRMWARE_BAUD, read_timeout: float = 0.05) -> Any:
    """A port that is already open (the flashing connection, handed over) made ready as `open_uart`
    makes a new one: the firmware's baud rate, the read timeout, DTR and RTS released, and nothing
    left over from before in its input."""
    try:
        _set_for_firmware(port, baud, read_timeout)
        port.reset_input_buffer()
    except (serial.SerialException, OSError) as error:
        _close(port)
        raise BoardVanishedError(
            f"the board on {url} went away while its port was set for the firmware ({_reason(error)}); "
            "check it is still plugged in"
        ) from None
    return port


def _set_for_firmware(port: Any, baud: int, read_timeout: float) -> None:
    """The firmware's baud rate, the read timeout, and DTR and RTS released (IO0 high, EN high)."""
    port.baudrate = baud
    port.timeout = read_timeout
    port.dtr = False
    port.rts = False


def has_modem_lines(url: str) -> bool:
    return not url.startswith(_NO_MODEM_LINES)


def reset_into_firmware(port: Any, url: str) -> bool:
    """Pulse EN through RTS with IO0 released. Returns False when the port cannot carry a reset."""
    if not has_modem_lines(url):
        return False
    try:
        port.dtr = False
        port.rts = True
        time.sleep(EN_LOW_SECONDS)
        port.rts = False
    except (serial.SerialException, OSError) as error:
        raise BoardVanishedError(
            f"the board on {url} went away while it was being reset ({_reason(error)}); "
            "check it is still plugged in"
        ) from None
    return True


def hard_reset(url: str, attempts: int = 5, pause: float = 0.2) -> str:
    """Reset the board on `url` into its flashed firmware; returns a sentence saying what happened.

    The station calls this after it has ended a worker: the worker's port may take a moment to be free
    again (the operating system, or an RFC 2217 server, noticing the closed connection), so it retries.
    """
    if not has_modem_lines(url):
        return f"{url} has no modem lines, so the board could not be reset; press its RESET button"
    last = ""
    for _ in range(attempts):
        try:
            port = open_uart(url, patience=0.0)
        except BoardNotFoundError as error:
            last = str(error)
            time.sleep(pause)
            continue
        try:
            reset_into_firmware(port, url)
            return f"the board on {url} was reset"
        except BoardVanishedError as error:
            last = str(error)
        finally:
            _close(port)
    return f"the board on {url} could not be reset ({last}); press its RESET button"


def _close(port: Any) -> None:
    with contextlib.suppress(serial.SerialException, OSError):
        port.close()


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
