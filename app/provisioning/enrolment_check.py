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
the firmware the board reported to the instance ("enrolled, firmware 2.1.0"). When the device's batch
offers a firmware, the pass waits (within the same limit) until the board runs it: an update that does
not arrive, or that the board refuses (signature, chip), fails the run on the line.

A re-enrolled board was usually Enrolled long before (a move to another batch keeps the device's state),
so for it "Enrolled" proves nothing about this run: the wait also asks that the instance has seen the
device since the run began (`seen_since`: the certificate's `enrolled_at`, updated by an enrolment or a
check-in), i.e. the board reconnected after it was served again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from app.domain.errors import NotFoundError
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


def offered_version(instance: Instance, batch: str) -> str | None:
    """The version of the firmware `batch` gives its devices, or None (none; or it cannot be told now:
    then the pass does not wait for an update it cannot name)."""
    try:
        name = instance.get_batch(batch).firmware
        return instance.get_firmware(name).version if name else None
    except UNREACHABLE_ERRORS:
        return None
    except NotFoundError:  # the batch or its firmware was deleted meanwhile
        return None


def wait_until_enrolled(
    instance: Instance,
    device_id: str,
    push: Callable[[], PushResult | None],
    limit_s: float,
    *,
    board: Callable[[], BoardVerdict | None] = _no_word,
    offered: Callable[[str], str | None] | None = None,
    stopped: Callable[[], bool] = lambda: False,
    seen_since: datetime | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> EnrolmentCheck:
    """Wait for the push to settle, then for the device to be Enrolled; at most `limit_s` in all.
    `board` says what the board's own log says against enrolling (None: nothing); `offered` names the
    firmware version a batch gives its devices (default: asked of `instance`); `stopped` ends the wait
    when the run is cancelled (`sleep` should wake up for it); with `seen_since` (a re-enrolment), an
    Enrolled device counts only once the instance has seen it at or after that moment."""
    offered_in = offered or (lambda batch: offered_version(instance, batch))
    if seen_since is not None:  # the instance keeps milliseconds: a check-in in the run's first one counts
        seen_since = seen_since.replace(microsecond=seen_since.microsecond // 1000 * 1000)
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
    wanted: str | None = None  # the batch's firmware version, asked once the device is enrolled
    running = ""
    last_seen: datetime | None = None  # with `seen_since`: when the instance last saw the device
    while True:
        try:
            device = instance.find_device(device_id)
            state = device.state if device is not None else None
            fresh = True
            if seen_since is not None and enrolled_at is None and state in CONFIRMED_STATES:
                last_seen = _last_seen(instance, device_id)
                fresh = last_seen is not None and last_seen >= seen_since
        except UNREACHABLE_ERRORS:
            return EnrolmentCheck(Confirmation.OFFLINE, "enrolment not confirmed: offline")
        if device is not None and state in CONFIRMED_STATES and fresh:
            if enrolled_at is None:
                enrolled_at = clock()
                wanted = offered_in(device.batch)
            running = device.firmware
            updating = wanted is not None and running != wanted  # the board is taking its batch's update
            if not updating and (running or clock() >= min(deadline, enrolled_at + FIRMWARE_GRACE_S)):
                message = enrolled_message(running)
                return EnrolmentCheck(Confirmation.ENROLLED, message, running)
        elif state is DeviceState.REVOKED:
            return EnrolmentCheck(
                Confirmation.NOT_ENROLLED, "enrolment not confirmed: the device is revoked on the instance"
            )
        if stopped():
            return EnrolmentCheck(Confirmation.STOPPED, "")
        verdict = board() if enrolled_at is None or wanted is not None else None
        if verdict is not None and verdict.decisive:
            if enrolled_at is not None:
                return _not_updated(wanted, running, f": {verdict.board_line}")
            return EnrolmentCheck(Confirmation.NOT_ENROLLED, f"not enrolled: {verdict.sentence}")
        if clock() >= deadline:
            break
        sleep(POLL_S)
    if enrolled_at is not None and wanted is not None:  # enrolled; its batch's firmware did not arrive
        why = f": {verdict.board_line}" if verdict is not None else f" within {limit_s:g} s"
        return _not_updated(wanted, running, why)
    if verdict is not None:
        return EnrolmentCheck(
            Confirmation.NOT_ENROLLED, f"not enrolled within {limit_s:g} s: {verdict.sentence}"
        )
    if seen_since is not None and state in CONFIRMED_STATES:
        seen = f"last seen {last_seen:%Y-%m-%d %H:%M:%S} UTC" if last_seen is not None else "never seen"
        return EnrolmentCheck(
            Confirmation.NOT_ENROLLED,
            f"enrolment not confirmed: the board did not reconnect to the instance within {limit_s:g} s (it "
            f"is {state.value if state else 'unknown'} from before, {seen}) and its log gave no reason; "
            "check the WiFi it joined and that the instance's enrolment service is running and reachable",
        )
    return EnrolmentCheck(
        Confirmation.NOT_ENROLLED,
        f"enrolment not confirmed: the board did not enrol within {limit_s:g} s (still "
        f"{state.value if state else 'unknown'}) and its log gave no reason; check the endpoint, port and "
        "root CA it was given, and that the instance's enrolment service is running and reachable",
    )


def _last_seen(instance: Instance, device_id: str) -> datetime | None:
    """The last time the instance saw the device prove its key (enrolment or check-in), or None."""
    try:
        certificate = instance.device_certificate(device_id)
    except NotFoundError:  # removed from its batch meanwhile
        return None
    return certificate.enrolled_at if certificate is not None else None


def _not_updated(wanted: str | None, running: str, why: str) -> EnrolmentCheck:
    runs = f"it still runs {running}" if running else "it has not said what it runs"
    return EnrolmentCheck(
        Confirmation.NOT_ENROLLED,
        f"enrolled, but its batch's firmware {wanted} was not installed{why} ({runs}); see the board's "
        "log, and check the firmware's chip and signing key",
        running,
    )
