"""Before anything irreversible: would this board end in a refused push?

A board provisioned before keeps its enrolment key, so it comes back with the same DeviceID. When that
ID already belongs to another batch the instance refuses to add it (a device lives in one batch), and
the run fails at its very end, after a release bootloader has burned the chip's eFuses for good. The
station knows such boards: its journal and records hold every DeviceID a board gave, by MAC. So the
check step asks the station (app/provisioning/station_replies.py) and the station answers from here:
the board's newest known DeviceID, and where the instance says it is now. When the instance cannot be
reached, or does not answer within `lookup_seconds` (the check step waits for this, and a server that
hangs must not stop a line), the station's own journal (where it pushed the ID) stands in for it.

A board whose ID is in no batch, or in the job's batch, passes; so does any board being re-enrolled,
since re-enrolment moves the device on purpose. The same lookup lists such boards in the release
confirmation dialog before the person types the batch name.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from app.domain.errors import InstanceUnavailableError, StationError
from app.domain.records import Device
from app.instance.api import Instance
from app.provisioning.records import RecordsDB

REFUSAL_KIND = "BoardInAnotherBatch"
LOOKUP_SECONDS = 3.0
"""How long the instance may take to say where a DeviceID is; well inside the worker's wait
(station_replies.VET_REPLY_SECONDS), so a slow instance means "ask the records", not a refused board."""


@dataclass(frozen=True)
class KnownBoard:
    """Where a board's DeviceID is held, and who says so ("the instance" or "the station's records")."""

    mac: str
    device_id: str
    batch: str
    source: str


@dataclass(frozen=True)
class BoardRefusal:
    """A board that would be refused by the batch, in words a person can act on."""

    board: KnownBoard
    batch: str

    @property
    def reason(self) -> str:
        known = self.board
        return (
            f"this board (MAC {known.mac}) was provisioned before: its DeviceID {known.device_id} is in "
            f"batch {known.batch!r} ({known.source}), so adding it to {self.batch!r} would be refused. "
            f"Nothing was written to the board. Provision it into {known.batch!r}, or re-enrol it to move it "
            f"into {self.batch!r}"
        )


def same_batch(a: str, b: str) -> bool:
    """The instance compares batch names without case or surrounding spaces."""
    return a.strip().casefold() == b.strip().casefold()


class BoardVetter:
    """Answers "where is this board's DeviceID?" for the supervisor's reader threads. The instance is
    asked by one thread at a time (a handle is not shared between threads at once), each question with
    a time limit; the records file serves every thread itself."""

    def __init__(
        self, instance: Instance, records: RecordsDB, lookup_seconds: float = LOOKUP_SECONDS
    ) -> None:
        self._instance = instance
        self._records = records
        self._lookup_seconds = lookup_seconds
        self._instance_lock = threading.Lock()

    def holder(self, mac: str) -> KnownBoard | None:
        """The batch the board's newest known DeviceID is in; None when it is in none (or unknown)."""
        if not mac:
            return None
        seen = self._records.newest_device_id_for_mac(mac)
        if seen is None:
            return None
        device_id, pushed_batch = seen
        try:
            device = self._find(device_id)
        except StationError:
            if pushed_batch:
                return KnownBoard(mac, device_id, pushed_batch, "the station's records; instance unreachable")
            return None
        if device is None:
            return None
        return KnownBoard(mac, device_id, device.batch, "the instance says so")

    def _find(self, device_id: str) -> Device | None:
        """`find_device` on a daemon thread, waited for at most `lookup_seconds` (a hung call is left to
        finish on its own; it never holds up the check step or the station's exit)."""
        answer: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=1)

        def ask() -> None:
            with self._instance_lock:
                try:
                    answer.put((True, self._instance.find_device(device_id)))
                except BaseException as error:  # handed to the waiting thread as it is
                    answer.put((False, error))

        threading.Thread(target=ask, name="board-vetting", daemon=True).start()
        try:
            ok, value = answer.get(timeout=self._lookup_seconds)
        except queue.Empty:
            raise InstanceUnavailableError(
                f"the instance did not say within {self._lookup_seconds:g} s where DeviceID {device_id} is"
            ) from None
        if not ok:
            assert isinstance(value, BaseException)
            raise value
        assert value is None or isinstance(value, Device)
        return value

    def refusal(self, mac: str, batch: str, *, move: bool = False) -> BoardRefusal | None:
        """Why this board must not be provisioned into `batch`; None when it may be."""
        if move:
            return None
        known = self.holder(mac)
        if known is None or same_batch(known.batch, batch):
            return None
        return BoardRefusal(known, batch)

    def refusals(self, boards: Iterable[tuple[str, str]], batch: str) -> list[tuple[str, BoardRefusal]]:
        """For (name, MAC) pairs: the boards that would be refused, with their names."""
        found = []
        for name, mac in boards:
            refused = self.refusal(mac, batch)
            if refused is not None:
                found.append((name, refused))
        return found
