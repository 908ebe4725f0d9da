"""The Instance contract for the device lifecycle: certificates, renewal, revocation, and their counts.

Devices enrol through the instance side of the enrolment service on the database behind the instance
under test (`enrol_device`); everything else goes through the `Instance` protocol only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from app.domain.errors import ConflictError, NotFoundError, ValidationError
from app.domain.kinds import DeviceState
from app.domain.records import MAX_PAGE_SIZE
from app.instance.api import Instance

IdMaker = Callable[..., list[str]]
Enrol = Callable[[str], None]


def test_a_registered_device_has_no_certificate_and_an_unknown_one_is_not_found(
    instance: Instance, device_ids: IdMaker
) -> None:
    instance.create_batch("line")
    (device,) = device_ids(1)
    instance.add_devices("line", [device])
    assert instance.device_certificate(device) is None
    assert instance.device_certificates([device]) == ()
    (stranger,) = device_ids(1, tag="stranger")
    with pytest.raises(NotFoundError, match=f"device {stranger} is in no batch of this instance"):
        instance.device_certificate(stranger)
    with pytest.raises(ValidationError, match="DeviceID"):
        instance.device_certificate("not-an-id")


def test_an_enrolled_device_shows_its_certificate(
    instance: Instance, device_ids: IdMaker, enrol_device: Enrol
) -> None:
    instance.create_batch("line")
    device, other = device_ids(2)
    instance.add_devices("line", [device, other])
    before = datetime.now(UTC) - timedelta(seconds=2)
    enrol_device(device)
    shown = instance.device_certificate(device.upper())
    assert shown is not None
    assert (shown.device_id, shown.state, shown.enrolments, shown.firmware) == (
        device,
        DeviceState.ENROLLED,
        1,
        "",
    )
    assert shown.first_enrolled_at == shown.enrolled_at and shown.enrolled_at >= before.replace(microsecond=0)
    assert shown.not_before <= shown.enrolled_at < shown.not_after
    cert = x509.load_pem_x509_certificate(shown.certificate_pem.encode())
    assert format(cert.serial_number, "x") == shown.serial_hex
    assert "PRIVATE" not in shown.certificate_pem
    assert instance.device_certificates([other, device, device]) == (shown,)


def test_renewal_gives_a_new_certificate_and_the_state_renewed(
    instance: Instance, device_ids: IdMaker, enrol_device: Enrol
) -> None:
    instance.create_batch("line")
    (device,) = device_ids(1)
    instance.add_devices("line", [device])
    enrol_device(device)
    first = instance.device_certificate(device)
    assert first is not None
    renewed = instance.renew_device(device)
    assert renewed.state is DeviceState.RENEWED and renewed.serial_hex != first.serial_hex
    assert renewed.not_after >= first.not_after
    assert (renewed.enrolments, renewed.enrolled_at) == (1, first.enrolled_at)  # the device was not seen
    assert instance.device_certificate(device) == renewed
    assert instance.get_batch("line").counts.renewed == 1
    assert "device.renew" in {entry.action for entry in instance.list_activity().items}


def test_renewal_is_refused_for_a_revoked_or_never_enrolled_device(
    instance: Instance, device_ids: IdMaker, enrol_device: Enrol
) -> None:
    instance.create_batch("line")
    device, fresh = device_ids(2)
    instance.add_devices("line", [device, fresh])
    with pytest.raises(ConflictError, match="has never enrolled, so it has no certificate to renew"):
        instance.renew_device(fresh)
    enrol_device(device)
    instance.set_device_state([device], DeviceState.REVOKED)
    with pytest.raises(ConflictError, match="is revoked, so its certificate is not renewed"):
        instance.renew_device(device)
    shown = instance.device_certificate(device)
    assert shown is not None and shown.state is DeviceState.REVOKED
    (stranger,) = device_ids(1, tag="stranger")
    with pytest.raises(NotFoundError):
        instance.renew_device(stranger)


def test_certificates_of_more_than_a_page_are_refused(instance: Instance, device_ids: IdMaker) -> None:
    with pytest.raises(ValidationError, match=f"at most {MAX_PAGE_SIZE:,}"):
        instance.device_certificates(device_ids(MAX_PAGE_SIZE + 1))


def test_dashboard_counts_come_from_the_lifecycle(
    instance: Instance, device_ids: IdMaker, enrol_device: Enrol
) -> None:
    instance.create_batch("line")
    ids = device_ids(5)
    instance.add_devices("line", ids)
    before = instance.dashboard_summary().certificates
    for device in ids[:3]:
        enrol_device(device)
    instance.renew_device(ids[1])
    instance.set_device_state([ids[2]], DeviceState.REVOKED)
    summary = instance.dashboard_summary()
    d = summary.devices
    assert (d.registered, d.enrolled, d.renewed, d.revoked, d.expired) == (2, 1, 1, 1, 0)
    c = summary.certificates
    # The enrolled and the renewed device, and the issuing CA, in use since a device enrolled under it.
    assert c.valid - before.valid == 3
    assert before.not_used - c.not_used == 4  # the three devices that enrolled, and the issuing CA
    assert c.expired == before.expired
