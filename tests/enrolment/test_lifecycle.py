"""Enrolled -> Renewed -> Expired -> Enrolled with an injected clock, on a real instance with real keys;
auto-renewal, enrolling twice, renewal by a person, revocation, and expiry counted on the dashboard."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from app.domain.kinds import DeviceState
from app.instance.local.enrolment import DeviceRevokedError
from app.instance.local.instance import LocalInstance


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def _state(instance: LocalInstance, device_id: str) -> DeviceState:
    device = instance.find_device(device_id)
    assert device is not None
    return device.state


def test_renewal_expiry_and_enrolling_again(instance: LocalInstance) -> None:
    batch = instance.create_batch(f"life-{secrets.token_hex(4)}").name
    device_id = secrets.token_hex(32)
    other_id = secrets.token_hex(32)
    instance.add_devices(batch, [device_id, other_id])
    clock = Clock()
    desk = instance.device_enrolment(clock)
    key = ec.generate_private_key(ec.SECP256R1()).public_key()

    first = desk.enrol(device_id, key)
    assert first.state is DeviceState.ENROLLED and _state(instance, device_id) is DeviceState.ENROLLED
    assert first.not_after - first.not_before == timedelta(days=365, minutes=5)

    clock.now += timedelta(days=300)  # before the certificate runs out: a renewal
    renewed = desk.enrol(device_id, key)
    assert renewed.state is DeviceState.RENEWED and not renewed.first
    assert _state(instance, device_id) is DeviceState.RENEWED
    desk.enrol(other_id, key)
    assert desk.expire_due() == 0

    clock.now += timedelta(days=366)  # both certificates have run out
    assert desk.expire_due() == 2
    assert _state(instance, device_id) is DeviceState.EXPIRED
    assert desk.expire_due() == 0  # once only
    counts = instance.get_batch(batch).counts
    assert (counts.expired, counts.enrolled, counts.renewed) == (2, 0, 0)

    again = desk.enrol(device_id, key)  # an expired device enrols again, it is not a renewal
    assert again.state is DeviceState.ENROLLED and not again.first
    cert = x509.load_der_x509_certificate(again.certificate_der)
    assert cert.not_valid_before_utc <= clock.now <= cert.not_valid_after_utc
    stored = desk.certificate_of(device_id)
    assert stored is not None and stored.enrolments == 3
    actions = [e.action for e in instance.list_activity().items]
    assert {"device.enrol", "device.renew", "device.expire"} <= set(actions)


def test_a_revoked_device_is_not_expired_and_not_renewed(instance: LocalInstance) -> None:
    batch = instance.create_batch(f"life-{secrets.token_hex(4)}").name
    device_id = secrets.token_hex(32)
    instance.add_devices(batch, [device_id])
    clock = Clock()
    desk = instance.device_enrolment(clock)
    desk.enrol(device_id, ec.generate_private_key(ec.SECP256R1()).public_key())
    instance.set_device_state([device_id], DeviceState.REVOKED)
    clock.now += timedelta(days=400)
    assert desk.expire_due() == 0
    assert _state(instance, device_id) is DeviceState.REVOKED


def _new_device(instance: LocalInstance) -> tuple[str, str]:
    batch = instance.create_batch(f"life-{secrets.token_hex(4)}").name
    device_id = secrets.token_hex(32)
    instance.add_devices(batch, [device_id])
    return batch, device_id


def _key() -> ec.EllipticCurvePublicKey:
    return ec.generate_private_key(ec.SECP256R1()).public_key()


def test_an_auto_renewing_device_that_enrols_near_expiry_is_renewed_for_a_full_lifetime(
    instance: LocalInstance,
) -> None:
    batch, device_id = _new_device(instance)
    assert instance.get_policy(instance.get_batch(batch).policy).auto_renew  # the default policy renews
    clock = Clock()
    desk = instance.device_enrolment(clock)
    first = desk.enrol(device_id, _key())
    clock.now = first.not_after - timedelta(days=2)  # two days before it runs out
    renewed = desk.enrol(device_id, _key())
    assert renewed.state is DeviceState.RENEWED and renewed.serial_hex != first.serial_hex
    assert renewed.not_after - renewed.not_before == timedelta(days=365, minutes=5)
    clock.now = first.not_after + timedelta(days=1)  # the old certificate has run out, the new one not
    desk.expire_due()  # (devices of other tests on this instance may run out here)
    assert _state(instance, device_id) is DeviceState.RENEWED


def test_without_auto_renew_enrolling_again_keeps_the_end_and_only_a_person_extends_it(
    instance: LocalInstance,
) -> None:
    policy = instance.create_policy(f"no-renew-{secrets.token_hex(3)}", certificate_days=30, auto_renew=False)
    batch = instance.create_batch(f"life-{secrets.token_hex(4)}", policy=policy.name).name
    device_id = secrets.token_hex(32)
    instance.add_devices(batch, [device_id])
    clock = Clock()
    desk = instance.device_enrolment(clock)
    first = desk.enrol(device_id, _key())
    assert first.not_after - first.not_before == timedelta(days=30, minutes=5)
    clock.now += timedelta(days=25)  # near its end, with a new device key (an erase, say)
    again = desk.enrol(device_id, _key())
    assert again.state is DeviceState.ENROLLED and not again.first
    assert again.not_after == first.not_after and again.serial_hex != first.serial_hex
    assert _state(instance, device_id) is DeviceState.ENROLLED
    renewed = desk.renew(device_id, "station")  # a person extends it
    assert renewed.state is DeviceState.RENEWED
    assert renewed.not_after - renewed.not_before == timedelta(days=30, minutes=5)
    assert renewed.not_after > first.not_after


def test_a_device_enrolling_twice_keeps_one_certificate_and_counts_both(instance: LocalInstance) -> None:
    batch, device_id = _new_device(instance)
    desk = instance.device_enrolment(Clock())
    first, second = desk.enrol(device_id, _key()), desk.enrol(device_id, _key())
    assert (first.first, second.first) == (True, False)
    stored = instance.device_certificate(device_id)
    assert stored is not None and stored.serial_hex == second.serial_hex and stored.enrolments == 2
    counts = instance.get_batch(batch).counts
    assert (counts.total, counts.enrolled + counts.renewed) == (1, 1)  # one device, counted once


def test_expired_certificates_are_counted_on_the_dashboard(instance: LocalInstance) -> None:
    _, device_id = _new_device(instance)
    before = instance.dashboard_summary()
    clock = Clock()
    clock.now -= timedelta(days=400)  # enrolled long ago: the certificate ran out 35 days ago
    instance.device_enrolment(clock).enrol(device_id, _key())
    # No enrolment service sweeps here: the dashboard expires what ran out before it counts.
    after = instance.dashboard_summary()
    assert after.devices.expired - before.devices.expired == 1
    assert after.certificates.expired - before.certificates.expired == 1
    assert after.devices.registered - before.devices.registered == -1
    assert _state(instance, device_id) is DeviceState.EXPIRED
    shown = instance.device_certificate(device_id)
    assert shown is not None and shown.state is DeviceState.EXPIRED and shown.not_after < datetime.now(UTC)


def test_a_device_made_enrolled_by_hand_with_a_run_out_certificate_expires_again(
    instance: LocalInstance,
) -> None:
    _, device_id = _new_device(instance)
    clock = Clock()
    desk = instance.device_enrolment(clock)
    desk.enrol(device_id, _key())
    clock.now += timedelta(days=400)
    assert desk.expire_due() >= 1
    instance.set_device_state([device_id], DeviceState.ENROLLED)
    clock.now += timedelta(days=1)
    assert desk.expire_due() >= 1
    assert _state(instance, device_id) is DeviceState.EXPIRED


def test_a_person_renews_an_expired_device_and_revocation_stops_both_enrolment_and_renewal(
    instance: LocalInstance,
) -> None:
    _, device_id = _new_device(instance)
    clock = Clock()
    desk = instance.device_enrolment(clock)
    key = _key()
    desk.enrol(device_id, key)
    clock.now += timedelta(days=400)
    desk.expire_due()
    renewed = desk.renew(device_id, "station")
    assert renewed.state is DeviceState.RENEWED and renewed.not_after > clock.now
    cert = x509.load_pem_x509_certificate(renewed.certificate_pem.encode())
    assert cert.public_key() == key  # the device's own key, certified again
    instance.set_device_state([device_id], DeviceState.REVOKED)
    with pytest.raises(DeviceRevokedError, match="revoked; move it to a batch again before it can enrol"):
        desk.enrol(device_id, key)
    with pytest.raises(DeviceRevokedError, match="revoked, so its certificate is not renewed"):
        desk.renew(device_id, "station")
    assert _state(instance, device_id) is DeviceState.REVOKED


def test_many_running_out_at_the_same_moment_are_expired_a_chunk_per_transaction(tmp_path: Path) -> None:
    with LocalInstance.open(tmp_path / "instance.sqlite3") as instance:  # its own: no other test's devices
        instance.create_batch("line")
        devices = [secrets.token_hex(32) for _ in range(7)]
        instance.add_devices("line", devices)
        clock = Clock()
        desk = instance.device_enrolment(clock)
        for device in devices:
            desk.enrol(device, _key())  # the same second: the same end
        clock.now += timedelta(days=366)
        assert desk.expire_due(chunk=3) == 7
        assert instance.get_batch("line").counts.expired == 7
        expiries = [e.details for e in instance.list_activity().items if e.action == "device.expire"]
        assert expiries == [
            "1 certificate(s) ran out",
            "3 certificate(s) ran out",
            "3 certificate(s) ran out",
        ]
        assert desk.expire_due(chunk=3) == 0
