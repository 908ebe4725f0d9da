"""The `enrol` step: after its DeviceID is in the batch, wait (bounded) until the instance reports the
board Enrolled, so a PASS means the board reached the server with the endpoint, port and root CA it was
given, and proved the key whose hash was pushed.

Runs in the station (the parent), on the port's own thread, after the worker has exited: the board is
still powered and enrolling on its own; the station only asks the instance. A board that cannot enrol
(wrong endpoint, port or root CA, a firewall, a DeviceID corrupted on the UART so that the ID pushed is
not the hash of the key the board proves) fails here with the reason, not months later in the field.
When the instance cannot be reached, or the ID is only queued, the enrolment cannot be confirmed: the
run keeps its pass and says "enrolment not confirmed: offline".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from app.domain.kinds import DeviceState
from app.instance.api import Instance
from app.provisioning.device_journal import JournalState
from app.provisioning.device_push import UNREACHABLE_ERRORS, PushResult

POLL_S = 0.25
CONFIRMED_STATES = (DeviceState.ENROLLED, DeviceState.RENEWED)


class Confirmation(Enum):
    ENROLLED = "enrolled"
    OFFLINE = "offline"  # cannot be confirmed now: the run passes, with the note
    NOT_ENROLLED = "not-enrolled"  # the board did not enrol in time: the run fails
    SKIPPED = "skipped"  # the push was refused: there is nothing to wait for


@dataclass(frozen=True)
class EnrolmentCheck:
    confirmation: Confirmation
    message: str


def wait_until_enrolled(
    instance: Instance,
    device_id: str,
    push: Callable[[], PushResult | None],
    limit_s: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> EnrolmentCheck:
    """Wait for the push to settle, then for the device to be Enrolled; at most `limit_s` in all."""
    deadline = clock() + limit_s
    pushed = push()
    while pushed is None and clock() < deadline:
        sleep(POLL_S)
        pushed = push()
    if pushed is not None and pushed.state is JournalState.REFUSED:
        return EnrolmentCheck(Confirmation.SKIPPED, "")  # the refused push fails the run itself
    if pushed is None or pushed.state is not JournalState.PUSHED:
        return EnrolmentCheck(Confirmation.OFFLINE, "enrolment not confirmed: offline (DeviceID queued)")
    state: DeviceState | None = None
    while True:
        try:
            device = instance.find_device(device_id)
        except UNREACHABLE_ERRORS:
            return EnrolmentCheck(Confirmation.OFFLINE, "enrolment not confirmed: offline")
        state = device.state if device is not None else None
        if state in CONFIRMED_STATES:
            return EnrolmentCheck(Confirmation.ENROLLED, "enrolled")
        if state is DeviceState.REVOKED:
            return EnrolmentCheck(
                Confirmation.NOT_ENROLLED, "enrolment not confirmed: the device is revoked on the instance"
            )
        if clock() >= deadline:
            break
        sleep(POLL_S)
    return EnrolmentCheck(
        Confirmation.NOT_ENROLLED,
        f"enrolment not confirmed: the board did not enrol within {limit_s:g} s (still "
        f"{state.value if state else 'unknown'}); check the endpoint, port and root CA it was given, that "
        "the instance's enrolment service is running and reachable, and the board's log for a QL line",
    )
