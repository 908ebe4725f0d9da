"""Read a running board's UART from the station itself, after its port worker has exited.

Why the station and not the worker: the worker's job ends when the DeviceID is in the journal and the
board joined WiFi; the wait for enrolment belongs to the station, which owns the instance. Keeping the
worker alive only to relay console lines would need a second conversation on its stdin (when to stop)
for no gain. So the worker exits, and the station opens the port that its reservation still holds:
one process per port at any moment (the worker, then the station), never two. The port is opened with
DTR and RTS released, so the board is not reset, and the lines go to the port's log and to whoever
judges them (app/provisioning/board_enrolment_log.py).

A port that cannot be opened (a board unplugged, a port with no console) only means no reasons from
the board; the wait for the instance goes on without them.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable
from typing import Any

import serial

from app.flashing.flash_errors import BoardNotFoundError
from app.provisioning.board_reset import open_uart

OPEN_PATIENCE = 1.0
_MAX_LINE = 4096
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class BoardConsole:
    """`with BoardConsole(url, on_line):` reads lines on a thread of its own until the block ends."""

    def __init__(self, url: str, on_line: Callable[[str], None], on_problem: Callable[[str], None]) -> None:
        self._url = url
        self._on_line = on_line
        self._on_problem = on_problem
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name=f"console-{url}", daemon=True)

    def __enter__(self) -> BoardConsole:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _read(self) -> None:
        try:
            port = open_uart(self._url, patience=OPEN_PATIENCE)
        except BoardNotFoundError as error:
            self._on_problem(f"the board's log could not be read while waiting for enrolment: {error}")
            return
        buffer = b""
        try:
            while not self._stop.is_set():
                chunk: bytes = port.read(max(1, int(getattr(port, "in_waiting", 0) or 0)))
                if not chunk:
                    continue
                buffer += chunk
                *lines, buffer = re.split(rb"[\r\n\x00]+", buffer)
                buffer = buffer[-_MAX_LINE:]
                for raw in lines:
                    text = _ANSI.sub("", raw.decode("utf-8", "replace")).strip()
                    if text:
                        self._on_line(text)
        except (serial.SerialException, OSError) as error:
            self._on_problem(f"the board's log stopped while waiting for enrolment: {error}")
        finally:
            _close(port)


def _close(port: Any) -> None:
    with contextlib.suppress(serial.SerialException, OSError):
        port.close()
