"""The worker waits for the station to journal a DeviceID before the board is told "OK".

A worker reads its job from the first line of stdin (`job_line`) and leaves stdin open. When the board
sends its DeviceID, the worker reports it (a `device_id` event) and waits here for the station's
one-line answer:

    {"journaled": "<device id>"}           written down for good: acknowledge it to the board
    {"refused": "<reason>"}                the station could not save it: do not acknowledge

Before that, in a provisioning run, the check step reports the board's MAC (the `detect` step's facts)
and waits for the station to say whether the board may be flashed (app/provisioning/board_vetting.py):

    {"vetted": "<mac>"}                    not known to be in another batch: go on
    {"board_refused": "<reason>"}          its DeviceID is in another batch: stop before flashing

No answer within the time, or stdin closed (the station was killed), counts as refused: a board told
"OK" for an ID nobody saved would be a board that cannot enrol, found months later in the field.
Stdin is read on a thread of its own so the wait has a time limit on every platform.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from typing import BinaryIO

from app.domain.device_id import DeviceID
from app.domain.errors import StationError

JOURNAL_REPLY_SECONDS = 30.0
VET_REPLY_SECONDS = 8.0
"""Less than the check step's own time limit, so a silent station is reported as such."""
_CLOSED = b""
_READ_SIZE = 1 << 16


class StationRefusedError(StationError):
    """The station did not confirm that it saved the DeviceID."""


class BoardRefusedError(StationError):
    """The station knows this board's DeviceID is in another batch: flashing it would end in a refusal."""


def vetted_reply(mac: str) -> bytes:
    return (json.dumps({"vetted": mac}) + "\n").encode("utf-8")


def board_refused_reply(reason: str) -> bytes:
    return (json.dumps({"board_refused": reason}) + "\n").encode("utf-8")


def journaled_reply(device_id: str) -> bytes:
    return (json.dumps({"journaled": device_id}) + "\n").encode("utf-8")


def refused_reply(reason: str) -> bytes:
    return (json.dumps({"refused": reason}) + "\n").encode("utf-8")


class StationReplies:
    """Lines the station writes to the worker's stdin after the job."""

    def __init__(self, source: BinaryIO, timeout: float = JOURNAL_REPLY_SECONDS) -> None:
        self._timeout = timeout
        self._lines: queue.Queue[bytes] = queue.Queue()
        self._thread = threading.Thread(
            target=self._read, args=(source,), name="station-replies", daemon=True
        )
        self._thread.start()

    def _read(self, source: BinaryIO) -> None:
        """Whole lines onto the queue. A real pipe is read through its descriptor: a thread blocked in a
        buffered object's read would hold that object's lock while the interpreter shuts down."""
        try:
            fd = source.fileno()
        except (OSError, ValueError, AttributeError):
            fd = -1
        try:
            if fd < 0:
                for line in iter(source.readline, b""):
                    self._lines.put(line)
            else:
                self._read_descriptor(fd)
        except (OSError, ValueError):
            pass
        self._lines.put(_CLOSED)

    def _read_descriptor(self, fd: int) -> None:
        """Linear in the input: the job line is over a megabyte (its images), so only each new chunk is
        searched for the line end; re-splitting the whole pending line per 4 KiB read cost a worker
        0.4 CPU-s, which 64 workers on 2 cores feel."""
        pending = bytearray()
        while chunk := os.read(fd, _READ_SIZE):
            start = 0
            while (end := chunk.find(b"\n", start)) >= 0:
                pending += chunk[start : end + 1]
                self._lines.put(bytes(pending))
                pending.clear()
                start = end + 1
            pending += chunk[start:]
        if pending:
            self._lines.put(bytes(pending))

    def job_line(self) -> bytes:
        """The first line: the job. Empty when stdin closed before one came."""
        line = self._lines.get()
        if line == _CLOSED:
            self._lines.put(_CLOSED)
        return line

    def vet(self, mac: str) -> None:
        """Return once the station said this board may be flashed; raise BoardRefusedError otherwise."""
        try:
            line = self._lines.get(timeout=min(self._timeout, VET_REPLY_SECONDS))
        except queue.Empty:
            raise BoardRefusedError(
                f"the station did not say within {VET_REPLY_SECONDS:g} s whether this board (MAC {mac}) is "
                "in another batch; nothing was written to it. Try again"
            ) from None
        if line == _CLOSED:
            self._lines.put(_CLOSED)
            raise BoardRefusedError(
                "the station stopped before it checked this board; nothing was written to it"
            )
        answer = _parse(line)
        if answer.get("vetted") == mac:
            return
        reason = answer.get("board_refused")
        if isinstance(reason, str) and reason:
            raise BoardRefusedError(reason)
        raise BoardRefusedError(
            f"the station's answer does not clear this board (MAC {mac}); nothing was written"
        )

    def confirm(self, device_id: DeviceID) -> None:
        """Return once the station journaled `device_id`; raise StationRefusedError otherwise."""
        try:
            line = self._lines.get(timeout=self._timeout)
        except queue.Empty:
            raise StationRefusedError(
                f"the station did not confirm within {self._timeout:g} s that it saved the DeviceID"
            ) from None
        if line == _CLOSED:
            self._lines.put(_CLOSED)  # every later wait sees it too
            raise StationRefusedError("the station stopped before it confirmed that it saved the DeviceID")
        answer = _parse(line)
        if answer.get("journaled") == device_id:
            return
        reason = answer.get("refused")
        if isinstance(reason, str) and reason:
            raise StationRefusedError(f"the station could not save it ({reason})")
        raise StationRefusedError(f"the station's answer does not confirm DeviceID {device_id}")


def _parse(line: bytes) -> dict[str, object]:
    try:
        answer = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return answer if isinstance(answer, dict) else {}
