"""The station's `enrol` step logic against a real local instance, with a stepped clock."""

from __future__ import annotations

import secrets

from app.domain.kinds import DeviceState
from app.instance.local.instance import LocalInstance
from app.provisioning.device_journal import JournalState
from app.provisioning.device_push import PushResult
from app.provisioning.enrolment_check import Confirmation, wait_until_enrolled

PUSHED = PushResult(JournalState.PUSHED, "added")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


def _device(instance: LocalInstance, state: DeviceState | None = None) -> str:
    batch = instance.create_batch(f"check-{secrets.token_hex(4)}").name
    device_id = secrets.token_hex(32)
    instance.add_devices(batch, [device_id])
    if state is not None:
        instance.set_device_state([device_id], state)
    return device_id


def test_enrolled_and_renewed_confirm_at_once(instance: LocalInstance) -> None:
    for state in (DeviceState.ENROLLED, DeviceState.RENEWED):
        clock = Clock()
        check = wait_until_enrolled(
            instance, _device(instance, state), lambda: PUSHED, 10, clock=clock, sleep=clock.sleep
        )
        assert check.confirmation is Confirmation.ENROLLED and check.message == "enrolled"
        assert clock.sleeps == 0


def test_a_registered_device_times_out_within_the_limit(instance: LocalInstance) -> None:
    clock = Clock()
    check = wait_until_enrolled(
        instance, _device(instance), lambda: PUSHED, 5, clock=clock, sleep=clock.sleep
    )
    assert check.confirmation is Confirmation.NOT_ENROLLED
    assert check.message.startswith(
        "enrolment not confirmed: the board did not enrol within 5 s (still registered)"
    )
    assert 5.0 <= clock.now <= 5.5


def test_a_device_that_becomes_enrolled_while_waiting_is_confirmed(instance: LocalInstance) -> None:
    device_id = _device(instance)
    clock = Clock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now >= 1.0:
            instance.set_device_state([device_id], DeviceState.ENROLLED)

    check = wait_until_enrolled(instance, device_id, lambda: PUSHED, 5, clock=clock, sleep=sleep)
    assert check.confirmation is Confirmation.ENROLLED and 1.0 <= clock.now < 1.5


def test_revoked_fails_queued_is_offline_refused_is_left_to_the_push(instance: LocalInstance) -> None:
    clock = Clock()
    revoked = wait_until_enrolled(
        instance, _device(instance, DeviceState.REVOKED), lambda: PUSHED, 5, clock=clock, sleep=clock.sleep
    )
    assert revoked.confirmation is Confirmation.NOT_ENROLLED and "revoked" in revoked.message
    queued = PushResult(JournalState.QUEUED, "queued: the instance is offline")
    offline = wait_until_enrolled(
        instance, _device(instance), lambda: queued, 5, clock=clock, sleep=clock.sleep
    )
    assert offline.confirmation is Confirmation.OFFLINE
    assert offline.message == "enrolment not confirmed: offline (DeviceID queued)"
    refused = PushResult(JournalState.REFUSED, "in another batch")
    skipped = wait_until_enrolled(
        instance, _device(instance), lambda: refused, 5, clock=clock, sleep=clock.sleep
    )
    assert skipped.confirmation is Confirmation.SKIPPED


def test_a_push_that_never_settles_is_not_waited_for_beyond_the_limit(instance: LocalInstance) -> None:
    clock = Clock()
    check = wait_until_enrolled(instance, _device(instance), lambda: None, 3, clock=clock, sleep=clock.sleep)
    assert check.confirmation is Confirmation.OFFLINE and 3.0 <= clock.now <= 3.5
