"""Taking a journaled DeviceID to its batch, or keeping it in the outbox until the instance can be reached.

A DeviceID is the one thing a provisioned board gives back; losing it means the board cannot enrol. It is
in the journal (app/provisioning/device_journal.py) before this module sees it, and this module only
moves its entry forward: pushed, queued (the instance could not be asked: network down, database busy)
or refused with the instance's reason (say the DeviceID already belongs to another batch). A refused
push is not retried: the person has to decide, and the record says why.

Re-enrolment is the exception to "one batch per device": a technician re-enrolling a board from the
field into a new batch means to move it, so a re-enrol push (`move=True`) moves the device there.
A freshly flashed board whose DeviceID is already in another batch is refused instead: on a production
line that means a board was mixed up, and silently moving it would hide that.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.device_id import DeviceID
from app.domain.errors import InstanceUnavailableError, StationError, StorageError
from app.instance.api import Instance
from app.provisioning.device_journal import DeviceJournal, JournalEntry, JournalState

UNREACHABLE_ERRORS: tuple[type[BaseException], ...] = (OSError, InstanceUnavailableError, StorageError)
"""Errors that mean "the instance cannot take it now" (connection refused, timeout, its database busy or
its disk full): the push is queued, not refused."""


@dataclass(frozen=True)
class PushResult:
    state: JournalState  # PUSHED, QUEUED or REFUSED
    message: str


def deliver(instance: Instance, journal: DeviceJournal, entry: JournalEntry) -> PushResult:
    """Take one journal entry to the instance and settle it; an unreachable instance queues it.

    Raises only when the journal itself cannot be written (the records file's error): the entry then
    stays as it was, still owed, and is found again at the next try or start."""
    try:
        result = _add(instance, entry.batch, entry.device_id, entry.move)
    except UNREACHABLE_ERRORS as error:
        reason = _reason(error)
        journal.settle(entry.id, JournalState.QUEUED, reason)
        return PushResult(
            JournalState.QUEUED,
            f"the instance cannot be reached ({reason}); DeviceID {entry.device_id} is queued for batch "
            f"{entry.batch!r} and will be sent when it is back",
        )
    journal.settle(entry.id, result.state, result.message if result.state is JournalState.REFUSED else "")
    return result


def _add(instance: Instance, batch: str, device_id: DeviceID, move: bool) -> PushResult:
    try:
        result = instance.add_devices(batch, [device_id])
        if result.added:
            return PushResult(JournalState.PUSHED, f"DeviceID {device_id} added to batch {batch!r}")
        holders = [held for found, held in result.present_samples if found == device_id]
        holder = holders[0] if holders else batch
        if holder.strip().casefold() == batch.strip().casefold():
            return PushResult(JournalState.PUSHED, f"DeviceID {device_id} was already in batch {batch!r}")
        if move:
            instance.move_devices(batch, [device_id])
            return PushResult(
                JournalState.PUSHED, f"DeviceID {device_id} moved from batch {holder!r} to {batch!r}"
            )
    except UNREACHABLE_ERRORS:
        raise
    except StationError as error:
        return PushResult(JournalState.REFUSED, f"the instance refused DeviceID {device_id}: {error}")
    return PushResult(
        JournalState.REFUSED,
        f"DeviceID {device_id} already belongs to batch {holder!r}, so it was not added to {batch!r}; "
        "the instance keeps a device in one batch",
    )


@dataclass(frozen=True)
class FlushReport:
    pushed: int
    refused: int
    still_queued: int
    messages: tuple[str, ...] = ()
    unreachable: str = ""  # why the instance could not be asked, when it could not


def flush_outbox(instance: Instance, journal: DeviceJournal) -> FlushReport:
    """Send every queued push, oldest first; stop at the first sign the instance is still unreachable."""
    pushed = refused = 0
    messages: list[str] = []
    unreachable = ""
    for entry in journal.outbox():
        result = deliver(instance, journal, entry)
        if result.state is JournalState.QUEUED:
            unreachable = result.message
            break
        if result.state is JournalState.PUSHED:
            pushed += 1
        else:
            refused += 1
        messages.append(result.message)
    still = journal.count(JournalState.QUEUED)
    return FlushReport(pushed, refused, still, tuple(messages), unreachable)


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
