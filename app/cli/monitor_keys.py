"""Keys for `ql-station board monitor` in a terminal: r resets the board, d resets it into download mode,
q or Ctrl-] quits (Ctrl-] as in idf.py monitor and miniterm).

Keys are read on their own thread from stdin, one character at a time (a terminal is put in cbreak mode
for that and restored afterwards), and turned into requests on the monitor's `MonitorControl`. A
stdin that is not a terminal (a pipe, a test) is read the same way until it ends.
"""

from __future__ import annotations

import contextlib
import select
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TextIO

from app.flashing.serial_monitor import MonitorControl, ResetKind

QUIT_KEYS = frozenset({"q", "Q", "\x1d"})  # \x1d is Ctrl-]
HELP = "keys: r = reset, d = reset into download mode, q or Ctrl-] = quit"


def apply_key(key: str, control: MonitorControl, note: Callable[[str], None]) -> None:
    """What one key does."""
    if key in QUIT_KEYS:
        control.stop()
    elif key in ("r", "R"):
        note("resetting the board into its firmware")
        control.reset(ResetKind.FIRMWARE)
    elif key in ("d", "D"):
        note("resetting the board into download mode")
        control.reset(ResetKind.DOWNLOAD)


@contextlib.contextmanager
def reading_keys(stream: TextIO, control: MonitorControl, note: Callable[[str], None]) -> Iterator[None]:
    """Read keys from `stream` while the block runs; the reader thread ends with it."""
    done = threading.Event()
    with _cbreak(stream):
        thread = threading.Thread(
            target=_read, args=(stream, control, note, done), name="monitor-keys", daemon=True
        )
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join(timeout=1.0)


def _read(
    stream: TextIO, control: MonitorControl, note: Callable[[str], None], done: threading.Event
) -> None:
    fd = _terminal_fd(stream)
    while not done.is_set() and not control.stopped:
        if fd is not None:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not ready:
                continue
        key = stream.read(1)
        if not key:
            return  # end of input: the monitor goes on until its time or Ctrl-C
        apply_key(key, control, note)


def _terminal_fd(stream: TextIO) -> int | None:
    """A POSIX terminal's descriptor (select() works on it); None for anything else, Windows included."""
    if sys.platform == "win32":
        return None
    try:
        return stream.fileno() if stream.isatty() else None
    except (AttributeError, OSError, ValueError):
        return None


@contextlib.contextmanager
def _cbreak(stream: TextIO) -> Iterator[None]:
    """Keys without Enter, on a POSIX terminal; anything else is read as it comes."""
    fd = _terminal_fd(stream)
    if fd is None:
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
