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

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from app.domain.errors import (
    InstanceUnavailableError,
    NotFoundError,
    StationError,
    StorageError,
    ValidationError,
)
from app.instance.api import Instance, keyed_add, keyed_move
from app.provisioning.device_journal import DeviceJournal, JournalEntry, JournalState

GROUP_SIZE = 1000  # DeviceIDs per outbox request: 10,000 queued IDs are ten requests
OUTBOX_READ = 1_000_000  # entries one flush reads; a station never owes more than this at once
MAX_MESSAGES = 200  # lines a flush report keeps for a person; the counts cover every entry

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
        result = _add(instance, entry)
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


def _add(instance: Instance, entry: JournalEntry) -> PushResult:
    batch, device_id, key = entry.batch, entry.device_id, entry.idempotency_key
    try:
        result = keyed_add(instance, batch, [device_id], key)
        if result.added:
            return PushResult(JournalState.PUSHED, f"DeviceID {device_id} added to batch {batch!r}")
        holders = [held for found, held in result.present_samples if found == device_id]
        holder = holders[0] if holders else batch
        if holder.strip().casefold() == batch.strip().casefold():
            return PushResult(JournalState.PUSHED, f"DeviceID {device_id} was already in batch {batch!r}")
        if entry.move:
            keyed_move(instance, batch, [device_id], f"{key}-move")
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


def flush_outbox(instance: Instance, journal: DeviceJournal, *, group_size: int = GROUP_SIZE) -> FlushReport:
    """Send every queued push, oldest first; stop at the first sign the instance is still unreachable.

    Queued pushes go in groups: consecutive entries for the same batch become one request (10,000 IDs
    queued during an outage are a few requests, not 10,000), with a key made from the entries' own keys,
    so a retry of the same group is the same request. A group the instance does not take whole (an ID
    already elsewhere, a batch gone) is delivered entry by entry, so each gets its own answer. A device
    queued twice is never in one group twice, which keeps each device's pushes in order.
    """
    pushed = refused = 0
    messages: list[str] = []
    unreachable = ""
    for group in _groups(journal.outbox(limit=OUTBOX_READ), group_size):
        results = _deliver_group(instance, journal, group)
        for result in results:
            if result.state is JournalState.QUEUED:
                unreachable = result.message
                break
            if result.state is JournalState.PUSHED:
                pushed += 1
            else:
                refused += 1
            if len(messages) < MAX_MESSAGES:
                messages.append(result.message)
        if unreachable:
            break
    still = journal.count(JournalState.QUEUED)
    return FlushReport(pushed, refused, still, tuple(messages), unreachable)


def deliver_owed(instance: Instance, journal: DeviceJournal) -> tuple[int, FlushReport]:
    """Queue what a stopped station left unanswered, then send the whole outbox; how many were left
    behind, and the flush. What a command that delivers (`outbox send`, `records --flush`, the CLI's
    catch-up) does; call it before this process journals anything (see `DeviceJournal.recover`)."""
    recovered = journal.recover()
    return len(recovered), flush_outbox(instance, journal)


def _groups(entries: list[JournalEntry], size: int) -> Iterator[list[JournalEntry]]:
    group: list[JournalEntry] = []
    seen: set[str] = set()
    for entry in entries:
        if group and (
            len(group) >= size
            or entry.move
            or group[0].move
            or entry.batch != group[0].batch
            or entry.device_id in seen
        ):
            yield group
            group, seen = [], set()
        group.append(entry)
        seen.add(entry.device_id)
    if group:
        yield group


def _deliver_group(instance: Instance, journal: DeviceJournal, group: list[JournalEntry]) -> list[PushResult]:
    if len(group) == 1:
        return [deliver(instance, journal, group[0])]
    key = hashlib.sha256("\n".join(e.idempotency_key for e in group).encode("ascii")).hexdigest()
    try:
        result = keyed_add(instance, group[0].batch, [e.device_id for e in group], key)
    except UNREACHABLE_ERRORS as error:
        return [PushResult(JournalState.QUEUED, f"the instance cannot be reached ({_reason(error)})")]
    except StationError:
        result = None  # the group as a whole was refused: each entry gets its own answer below
    if result is not None and result.added == len(group):
        batch = group[0].batch
        journal.settle_many([e.id for e in group], JournalState.PUSHED)
        return [
            PushResult(JournalState.PUSHED, f"DeviceID {e.device_id} added to batch {batch!r}") for e in group
        ]
    results: list[PushResult] = []
    for entry in group:  # some were already there or elsewhere: the usual one-by-one answer says which
        results.append(deliver(instance, journal, entry))
        if results[-1].state is JournalState.QUEUED:
            break
    return results


def log_discard(instance: Instance, journal: DeviceJournal, entry_id: int, reason: str) -> None:
    """Tell the instance's activity log that a refused DeviceID is given up, before the journal says so.

    In this order, an instance that cannot be reached leaves the entry needing attention (the person
    tries again later) rather than discarded with no trace on the instance.
    """
    entry = journal.get(entry_id)
    if entry is None:
        raise NotFoundError(f"no outbox entry {entry_id}")
    if not reason.strip():
        raise ValidationError("say why the DeviceID is discarded: the reason goes to the activity log")
    instance.discard_device_push(entry.device_id, entry.batch, reason)


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
