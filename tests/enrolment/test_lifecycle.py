"""Enrolled -> Renewed -> Expired -> Enrolled with an injected clock, on a real instance with real keys."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from app.domain.kinds import DeviceState
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
