"""Adding a board's DeviceID to its batch, or keeping it in the outbox until the instance can be reached.

A DeviceID is the one thing a provisioned board gives back; losing it means the board cannot enrol. So
an instance that cannot be reached (network down, server busy) never loses a push: it is queued in the
records file and sent by `flush_outbox` later. An instance that *answers* no (say the DeviceID already
belongs to another batch) is not retried: the person has to decide, and the record says why.

Re-enrolment is the exception to "one batch per device": a technician re-enrolling a board from the
field into a new batch means to move it, so a re-enrol push (`move=True`) moves the device there.
A freshly flashed board whose DeviceID is already in another batch is refused instead: on a production
line that means a board was mixed up, and silently moving it would hide that.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from app.domain.device_id import parse_device_id
from app.domain.errors import StationError
from app.instance.api import Instance
from app.provisioning.records import PushState, RecordsDB

UNREACHABLE_ERRORS: tuple[type[BaseException], ...] = (OSError, sqlite3.OperationalError)
"""Errors that mean "the instance could not be asked" (connection refused, timeout, database busy)."""


@dataclass(frozen=True)
class PushResult:
    state: PushState
    message: str


def push_device(
    instance: Instance, records: RecordsDB, batch: str, device_id: str, *, move: bool = False
) -> PushResult:
    """Add one DeviceID to `batch`. Raises nothing for instance trouble: the result says what happened."""
    canonical = parse_device_id(device_id)
    try:
        return _add(instance, batch, canonical, move)
    except UNREACHABLE_ERRORS as error:
        reason = _reason(error)
        records.queue_push(batch, canonical, reason, move=move)
        return PushResult(
            PushState.QUEUED,
            f"the instance cannot be reached ({reason}); DeviceID {canonical} is queued for batch "
            f"{batch!r} and will be sent when it is back",
        )


def _add(instance: Instance, batch: str, device_id: str, move: bool) -> PushResult:
    try:
        result = instance.add_devices(batch, [device_id])
        if result.added:
            return PushResult(PushState.PUSHED, f"DeviceID {device_id} added to batch {batch!r}")
        holders = [held for found, held in result.present_samples if found == device_id]
        holder = holders[0] if holders else batch
        if holder.strip().casefold() == batch.strip().casefold():
            return PushResult(PushState.PUSHED, f"DeviceID {device_id} was already in batch {batch!r}")
        if move:
            instance.move_devices(batch, [device_id])
            return PushResult(
                PushState.PUSHED, f"DeviceID {device_id} moved from batch {holder!r} to {batch!r}"
            )
    except StationError as error:
        return PushResult(PushState.REFUSED, f"the instance refused DeviceID {device_id}: {error}")
    return PushResult(
        PushState.REFUSED,
        f"DeviceID {device_id} already belongs to batch {holder!r}, so it was not added to {batch!r}; "
        "the instance keeps a device in one batch",
    )


@dataclass(frozen=True)
class FlushReport:
    pushed: int
    refused: int
    still_queued: int
    messages: tuple[str, ...] = ()


def flush_outbox(instance: Instance, records: RecordsDB) -> FlushReport:
    """Send every queued push, oldest first; stop at the first sign the instance is still unreachable."""
    pushed = refused = 0
    messages: list[str] = []
    for pending in records.pending_pushes():
        try:
            result = _add(instance, pending.batch, pending.device_id, pending.move)
        except UNREACHABLE_ERRORS as error:
            records.note_push_failure(pending.id, _reason(error))
            break
        if result.state is PushState.PUSHED:
            pushed += 1
            records.complete_push(pending.id, PushState.PUSHED)
        else:
            refused += 1
            records.complete_push(pending.id, PushState.REFUSED, result.message)
        messages.append(result.message)
    return FlushReport(pushed, refused, records.pending_count(), tuple(messages))


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
