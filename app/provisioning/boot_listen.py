"""Read a board's UART from the reset until its firmware is up, and hand what follows to the IEF session.

`listen_for_boot` feeds each line to a `BootWatch` and stops at the first of:
- a decisive line (the ROM or bootloader refusing, a panic, a reset loop): `BootFailedError` at once;
- nothing at all within `silence` seconds: the board printed nothing after reset;
- the IEF's first `IEF DATA`, or the app's first log line and then `app_grace` seconds without trouble:
  the firmware runs. The bytes from the marker on are not consumed: they are returned inside a
  `ReplayPort`, so the IEF session reads them first and no request is lost;
- `limit` seconds: the output never reached the app.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from app.domain.errors import StationError
from app.provisioning.boot_watch import IEF_MARKER, BootVerdict, BootWatch

SILENCE_SECONDS = 3.0
APP_GRACE_SECONDS = 2.0
_READ_SLICE = 0.05
_MAX_LINE = 4096
_LINE_END = re.compile(rb"[\n\x00]")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

Clock = Callable[[], float]
LineSink = Callable[[str], None]


class BootFailedError(StationError):
    """The board did not start its firmware; `verdict` says why in the board's own words."""

    def __init__(self, verdict: BootVerdict) -> None:
        super().__init__(verdict.sentence())
        self.verdict = verdict


class ReplayPort:
    """A serial port whose first reads return bytes already taken from it; everything else is the port's."""

    def __init__(self, port: Any, pending: bytes) -> None:
        self._port = port
        self._pending = bytearray(pending)

    @property
    def in_waiting(self) -> int:
        return len(self._pending) or int(getattr(self._port, "in_waiting", 0) or 0)

    @property
    def timeout(self) -> float | None:
        value: float | None = self._port.timeout
        return value

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        self._port.timeout = value

    def read(self, size: int = 1) -> bytes:
        if self._pending:
            out = bytes(self._pending[:size])
            del self._pending[:size]
            return out
        data: bytes = self._port.read(size)
        return data

    def write(self, data: bytes, /) -> int | None:
        written: int | None = self._port.write(data)
        return written

    def close(self) -> None:
        self._port.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._port, name)


def listen_for_boot(
    port: Any,
    watch: BootWatch,
    *,
    limit: float,
    silence: float = SILENCE_SECONDS,
    app_grace: float = APP_GRACE_SECONDS,
    on_line: LineSink | None = None,
    clock: Clock = time.monotonic,
) -> ReplayPort:
    """Watch the boot on `port` (already reset); return the port for the IEF session, or raise."""
    start = clock()
    reader = _Lines(on_line)
    seen_bytes = 0
    started_at: float | None = None
    saved = port.timeout
    port.timeout = _READ_SLICE
    try:
        while True:
            now = clock()
            if seen_bytes == 0 and now - start >= silence:
                raise BootFailedError(watch.silent(silence))
            if started_at is not None and now - started_at >= app_grace:
                return ReplayPort(port, reader.from_app())
            if now - start >= limit:
                reader.flush()
                raise BootFailedError(watch.timed_out(limit))
            waiting = int(getattr(port, "in_waiting", 0) or 0)
            chunk = port.read(waiting if waiting > 0 else 1)
            if not chunk:
                continue
            seen_bytes += len(chunk)
            for text, line_start in reader.add(chunk):
                if IEF_MARKER in text:
                    watch.feed(text)
                    return ReplayPort(port, reader.from_app(line_start))
                verdict = watch.feed(text)
                if verdict is not None:
                    reader.note(text, app=False)
                    reader.flush()
                    raise BootFailedError(verdict)
                if watch.started and started_at is None:
                    started_at = clock()
                    reader.app_starts(line_start)
                elif not watch.started:
                    started_at = None
                reader.note(text, app=started_at is not None)
    finally:
        port.timeout = saved


class _Lines:
    """The UART's bytes cut into lines, keeping the app's bytes for the IEF session to read again.

    Lines before the app started are logged as they come; the app's own lines are logged by the IEF
    session when it reads them (it also checks the DeviceID against the copy the app logs), unless the
    boot fails first, when they are logged here.
    """

    def __init__(self, on_line: LineSink | None) -> None:
        self._on_line = on_line
        self._buf = bytearray()
        self._pos = 0
        self._app: int | None = None
        self._deferred: list[str] = []

    def add(self, chunk: bytes) -> list[tuple[str, int]]:
        keep = self._pos if self._app is None else min(self._pos, self._app)
        if keep > _MAX_LINE:  # lines already judged, and not the app's: drop them
            del self._buf[:keep]
            self._pos -= keep
            self._app = None if self._app is None else self._app - keep
        self._buf += chunk
        lines: list[tuple[str, int]] = []
        while True:
            end = _LINE_END.search(self._buf, self._pos)
            if end is None:
                if len(self._buf) - self._pos <= _MAX_LINE:
                    break
                end_at = next_pos = len(self._buf)  # a line that never ends: judge what there is
            else:
                end_at, next_pos = end.start(), end.end()
            text = _ANSI.sub("", bytes(self._buf[self._pos : end_at]).decode("utf-8", "replace")).strip()
            start, self._pos = self._pos, next_pos
            if text:
                lines.append((text, start))
        return lines

    def app_starts(self, line_start: int) -> None:
        self._app = line_start

    def note(self, text: str, app: bool) -> None:
        if app:
            self._deferred.append(text)
            return
        self.flush()
        if self._on_line is not None:
            self._on_line(text)
        self._app = None

    def flush(self) -> None:
        deferred, self._deferred = self._deferred, []
        if self._on_line is not None:
            for text in deferred:
                self._on_line(text)

    def from_app(self, line_start: int | None = None) -> bytes:
        start = self._app if self._app is not None else line_start
        return bytes(self._buf[start:]) if start is not None else bytes(self._buf[self._pos :])
