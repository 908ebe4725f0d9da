"""The `enrol` step: after its DeviceID is in the batch, wait (bounded) until the instance reports the
board Enrolled, so a PASS means the board reached the server with the endpoint, port and root CA it was
given, and proved the key whose hash was pushed.

Runs in the station (the parent), on the port's own thread, after the worker has exited: the board is
still powered and enrolling on its own; the station only asks the instance. A board that cannot enrol
(wrong endpoint, port or root CA, a firewall, a DeviceID corrupted on the UART so that the ID pushed is
not the hash of the key the board proves) fails here with the reason, not months later in the field.
When the instance cannot be reached, or the ID is only queued, the enrolment cannot be confirmed: the
run keeps its pass and says "enrolment not confirmed: offline".

While it waits, the station reads the board's log (app/provisioning/board_enrolment_log.py): a board that
keeps failing the same way, or enrols as another DeviceID than the one pushed, ends the wait at once, and
a wait that runs out names the board's last reason rather than only "timed out". A confirmed pass names
the firmware the board reported to the instance ("enrolled, firmware 2.1.0").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from app.domain.kinds import DeviceState
from app.instance.api import Instance
from app.provisioning.board_enrolment_log import BoardVerdict
from app.provisioning.device_journal import JournalState
from app.provisioning.device_push import UNREACHABLE_ERRORS, PushResult

POLL_S = 0.25
FIRMWARE_GRACE_S = 2.0  # the board reports its firmware just after it is Enrolled: wait that long for it
CONFIRMED_STATES = (DeviceState.ENROLLED, DeviceState.RENEWED)


class Confirmation(Enum):
    ENROLLED = "enrolled"
    OFFLINE = "offline"  # cannot be confirmed now: the run passes, with the note
    NOT_ENROLLED = "not-enrolled"  # the board did not enrol in time: the run fails
    SKIPPED = "skipped"  # the push was refused: there is nothing to wait for
    STOPPED = "stopped"  # the run was cancelled while it waited: its stop reason says why


@dataclass(frozen=True)
class EnrolmentCheck:
    confirmation: Confirmation
    message: str
    firmware: str = ""  # ENROLLED: what the board said it runs ("" when it has not said yet)


def enrolled_message(firmware: str) -> str:
    return f"enrolled, firmware {firmware}" if firmware else "enrolled"


def _no_word() -> BoardVerdict | None:
    return None


def wait_until_enrolled(
    instance: Instance,
    device_id: str,
    push: Callable[[], PushResult | None],
    limit_s: float,
    *,
    board: Callable[[], BoardVerdict | None] = _no_word,
    stopped: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> EnrolmentCheck:
    """Wait for the push to settle, then for the device to be Enrolled; at most `limit_s` in all.
    `board` says what the board's own log says against enrolling (None: nothing); `stopped` ends the wait
    when the run is cancelled (`sleep` should wake up for it)."""
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
    enrolled_at: float | None = None
    while True:
        try:
            device = instance.find_device(device_id)
        except UNREACHABLE_ERRORS:
            return EnrolmentCheck(Confirmation.OFFLINE, "enrolment not confirmed: offline")
        state = device.state if device is not None else None
        if device is not None and state in CONFIRMED_STATES:
            enrolled_at = clock() if enrolled_at is None else enrolled_at
            if device.firmware or clock() >= min(deadline, enrolled_at + FIRMWARE_GRACE_S):
                message = enrolled_message(device.firmware)
                return EnrolmentCheck(Confirmation.ENROLLED, message, device.firmware)
        elif state is DeviceState.REVOKED:
            return EnrolmentCheck(
                Confirmation.NOT_ENROLLED, "enrolment not confirmed: the device is revoked on the instance"
            )
        if stopped():
            return EnrolmentCheck(Confirmation.STOPPED, "")
        verdict = board() if enrolled_at is None else None
        if verdict is not None and verdict.decisive:
            return EnrolmentCheck(Confirmation.NOT_ENROLLED, f"not enrolled: {verdict.sentence}")
        if clock() >= deadline:
            break
        sleep(POLL_S)
    if verdict is not None:
        return EnrolmentCheck(
            Confirmation.NOT_ENROLLED, f"not enrolled within {limit_s:g} s: {verdict.sentence}"
        )
    return EnrolmentCheck(
        Confirmation.NOT_ENROLLED,
        f"enrolment not confirmed: the board did not enrol within {limit_s:g} s (still "
        f"{state.value if state else 'unknown'}) and its log gave no reason; check the endpoint, port and "
        "root CA it was given, and that the instance's enrolment service is running and reachable",
    )
