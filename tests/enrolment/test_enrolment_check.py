"""The station's `enrol` step logic against a real local instance, with a stepped clock."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from app.domain.chips import ChipType
from app.domain.kinds import DeviceState, IefKind, KeyType
from app.instance.local.enrolment import DeviceEnrolment
from app.instance.local.instance import LocalInstance
from app.provisioning.board_enrolment_log import BoardEnrolmentLog, BoardVerdict
from app.provisioning.device_journal import JournalState
from app.provisioning.device_push import PushResult
from app.provisioning.enrolment_check import FIRMWARE_GRACE_S, POLL_S, Confirmation, wait_until_enrolled
from app.sim.images import build_sim_ief
from tests.enrolment.conftest import new_keys

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


def test_enrolled_and_renewed_confirm_after_a_short_wait_for_the_firmware(instance: LocalInstance) -> None:
    for state in (DeviceState.ENROLLED, DeviceState.RENEWED):
        clock = Clock()
        check = wait_until_enrolled(
            instance, _device(instance, state), lambda: PUSHED, 10, clock=clock, sleep=clock.sleep
        )
        # Set by hand, the device never reports a firmware: "enrolled" without one, FIRMWARE_GRACE_S later.
        assert (check.confirmation, check.message, check.firmware) == (Confirmation.ENROLLED, "enrolled", "")
        assert FIRMWARE_GRACE_S <= clock.now <= FIRMWARE_GRACE_S + POLL_S


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
    assert check.confirmation is Confirmation.ENROLLED
    assert 1.0 + FIRMWARE_GRACE_S <= clock.now < 1.5 + FIRMWARE_GRACE_S, (
        "no firmware reported: the grace, no more"
    )


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


TLS_LINE = (
    "E (2412) QL: TLS handshake failed: server certificate not trusted by ql_rootCA (unable to get ...)"
)


def test_a_board_that_fails_the_same_way_twice_ends_the_wait_with_its_reason(instance: LocalInstance) -> None:
    device_id = _device(instance)
    log = BoardEnrolmentLog(device_id)
    clock = Clock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.sleeps in (2, 8):  # the board retries every few seconds
            log.feed(f"\x1b[0;31m{TLS_LINE}\x1b[0m")

    check = wait_until_enrolled(
        instance, device_id, lambda: PUSHED, 60, board=log.verdict, clock=clock, sleep=sleep
    )
    assert check.confirmation is Confirmation.NOT_ENROLLED
    assert check.message == (
        "not enrolled: the board could not enrol: TLS handshake failed: server certificate not trusted by "
        "ql_rootCA (unable to get ...) (the root CA given to the board does not sign the instance's TLS "
        "certificate)"
    )
    assert clock.now < 3, "the second identical failure ends the wait; the 60 s are not sat out"


def test_a_wait_that_runs_out_names_the_boards_last_reason(instance: LocalInstance) -> None:
    device_id = _device(instance)
    log = BoardEnrolmentLog(device_id)
    log.feed("E (1200) QL: connect to 127.0.0.1:6001 failed: connection refused")
    clock = Clock()
    check = wait_until_enrolled(
        instance, device_id, lambda: PUSHED, 4, board=log.verdict, clock=clock, sleep=clock.sleep
    )
    assert check.confirmation is Confirmation.NOT_ENROLLED
    assert check.message == (
        "not enrolled within 4 s: the board could not enrol: connect to 127.0.0.1:6001 failed: connection "
        "refused (nothing listens on the endpoint and port given to the board)"
    )


def test_a_board_enrolling_as_another_deviceid_fails_at_once(instance: LocalInstance) -> None:
    device_id = _device(instance)
    log = BoardEnrolmentLog(device_id)
    other = "0" * 16 if not device_id.startswith("0" * 16) else "1" * 16
    log.feed(f"I (2301) QL: hello sent, DeviceID {other}...")
    clock = Clock()
    check = wait_until_enrolled(
        instance, device_id, lambda: PUSHED, 60, board=log.verdict, clock=clock, sleep=clock.sleep
    )
    assert check.confirmation is Confirmation.NOT_ENROLLED and clock.sleeps == 0
    assert check.message.startswith(
        f"not enrolled: DeviceID damaged on the UART: the board enrols as {other}…, not as the "
        f"{device_id[:16]}… pushed, so the device in the batch can never enrol"
    )


def test_the_boards_own_deviceid_and_other_lines_are_no_reason(instance: LocalInstance) -> None:
    device_id = _device(instance)
    log = BoardEnrolmentLog(device_id)
    for line in (
        f"I (2301) QL: hello sent, DeviceID {device_id[:16]}...",
        "E (900) IEF: wifi_password: too long; asking again",
        "W (950) wifi: authentication failed (reason 15: 4WAY_HANDSHAKE_TIMEOUT)",
        "E (x) ???: \x1b[0;31m",
    ):
        log.feed(line)
    assert log.verdict() is None


def test_a_cancelled_run_stops_waiting_at_once(instance: LocalInstance) -> None:
    device_id = _device(instance)
    clock = Clock()
    cancelled: list[bool] = []

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        cancelled.append(clock.now >= 1.0)

    check = wait_until_enrolled(
        instance, device_id, lambda: PUSHED, 60, stopped=lambda: any(cancelled), clock=clock, sleep=sleep
    )
    assert check.confirmation is Confirmation.STOPPED and 1.0 <= clock.now < 1.5


# --- a batch that gives its devices a firmware: the pass waits until the board runs it -----------------
def _enrolled_where_the_batch_offers(instance: LocalInstance, version: str) -> tuple[str, DeviceEnrolment]:
    """A device enrolled (reporting the IEF's 'sim-1') in a batch whose firmware is `version`."""
    tag = secrets.token_hex(4)
    key = instance.create_signing_key(f"fw-{tag}", KeyType.ECDSA_P256)
    image = build_sim_ief(ChipType.ESP32S3, IefKind.NON_DEBUG, version=version)
    instance.upload_firmware(f"app-{tag}", version, ChipType.ESP32S3, [], image, key.name)
    batch = instance.create_batch(f"fw-{tag}", firmware=f"app-{tag}").name
    keys = new_keys()
    instance.add_devices(batch, [keys.device_id])
    desk = instance.device_enrolment()
    desk.enrol(keys.device_id, keys.device.public_key())
    desk.report_status(keys.device_id, "sim-1")
    return keys.device_id, desk


def test_a_pass_waits_until_the_board_runs_its_batchs_firmware_and_names_it(instance: LocalInstance) -> None:
    device_id, desk = _enrolled_where_the_batch_offers(instance, "2.1.0")
    clock = Clock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.sleeps == 6:  # the update arrives, the board reboots into it and says so
            desk.report_status(device_id, "2.1.0")

    check = wait_until_enrolled(instance, device_id, lambda: PUSHED, 30, clock=clock, sleep=sleep)

    assert (check.confirmation, check.message, check.firmware) == (
        Confirmation.ENROLLED,
        "enrolled, firmware 2.1.0",
        "2.1.0",
    )
    assert clock.sleeps == 6, "it did not pass on the first firmware the board reported"


def test_an_update_that_never_arrives_fails_the_run_naming_both_versions(instance: LocalInstance) -> None:
    device_id, _desk = _enrolled_where_the_batch_offers(instance, "2.2.0")
    clock = Clock()
    check = wait_until_enrolled(instance, device_id, lambda: PUSHED, 5, clock=clock, sleep=clock.sleep)
    assert check.confirmation is Confirmation.NOT_ENROLLED
    assert check.message.startswith(
        "enrolled, but its batch's firmware 2.2.0 was not installed within 5 s (it still runs sim-1)"
    )
    assert 5.0 <= clock.now <= 5.5


def test_an_update_the_board_refuses_fails_at_once_with_the_boards_words(instance: LocalInstance) -> None:
    device_id, _desk = _enrolled_where_the_batch_offers(instance, "2.3.0")
    clock = Clock()
    refused = BoardVerdict("firmware rejected: signature check failed", "…", decisive=True)
    check = wait_until_enrolled(
        instance, device_id, lambda: PUSHED, 30, board=lambda: refused, clock=clock, sleep=clock.sleep
    )
    assert check.confirmation is Confirmation.NOT_ENROLLED
    assert check.message.startswith(
        "enrolled, but its batch's firmware 2.3.0 was not installed: firmware rejected: signature check "
        "failed (it still runs sim-1)"
    )
    assert clock.now < 1, "a refusal the board repeated ends the wait"


# --- a re-enrolment: Enrolled from before proves nothing, the board must be seen again ------------------
def _enrolled_long_ago(instance: LocalInstance) -> tuple[str, DeviceEnrolment, datetime]:
    """A device enrolled an hour ago (the instance's clock then), and a desk on the clock of now."""
    batch = instance.create_batch(f"seen-{secrets.token_hex(4)}").name
    keys = new_keys()
    instance.add_devices(batch, [keys.device_id])
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    instance.device_enrolment(lambda: an_hour_ago).enrol(keys.device_id, keys.device.public_key())
    return keys.device_id, instance.device_enrolment(), datetime.now(UTC)


def test_a_reenrolled_device_enrolled_from_before_is_confirmed_only_once_it_checks_in_again(
    instance: LocalInstance,
) -> None:
    device_id, desk, run_began = _enrolled_long_ago(instance)
    clock = Clock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.sleeps == 8:  # the re-enrolled board restarts, joins WiFi, checks in with its certificate
            desk.check_in(device_id)
            desk.report_status(device_id, "sim-1")

    check = wait_until_enrolled(
        instance, device_id, lambda: PUSHED, 30, seen_since=run_began, clock=clock, sleep=sleep
    )
    assert (check.confirmation, check.message) == (Confirmation.ENROLLED, "enrolled, firmware sim-1")
    assert clock.sleeps == 8, "Enrolled from an hour ago did not pass the run"


def test_a_check_in_within_the_runs_first_millisecond_counts(instance: LocalInstance) -> None:
    """The instance keeps milliseconds: a check-in in the same millisecond the run began, stored as
    that millisecond's start, is not "before the run" (this failed now and then on a quick machine)."""
    device_id, desk, _run_began = _enrolled_long_ago(instance)
    desk.check_in(device_id)
    desk.report_status(device_id, "sim-1")
    certificate = instance.device_certificate(device_id)
    assert certificate is not None and certificate.enrolled_at is not None
    stored = certificate.enrolled_at
    assert stored.microsecond % 1000 == 0
    run_began = stored + timedelta(microseconds=999)  # later, but within the same millisecond
    clock = Clock()
    check = wait_until_enrolled(
        instance, device_id, lambda: PUSHED, 5, seen_since=run_began, clock=clock, sleep=clock.sleep
    )
    assert check.confirmation is Confirmation.ENROLLED


def test_a_reenrolled_device_that_never_reconnects_fails_saying_so(instance: LocalInstance) -> None:
    device_id, _desk, run_began = _enrolled_long_ago(instance)
    clock = Clock()
    check = wait_until_enrolled(
        instance, device_id, lambda: PUSHED, 5, seen_since=run_began, clock=clock, sleep=clock.sleep
    )
    assert check.confirmation is Confirmation.NOT_ENROLLED
    assert check.message.startswith(
        "enrolment not confirmed: the board did not reconnect to the instance within 5 s (it is enrolled "
        "from before, last seen "
    )
    assert 5.0 <= clock.now <= 5.5
