"""A device's certificate follows its batch's policy, as the policy is when the device enrols."""

from __future__ import annotations

import secrets
from datetime import timedelta

from cryptography import x509

from app.instance.api import DEFAULT_POLICY
from tests.enrolment.conftest import Site


def _lifetime(certificate_der: bytes) -> timedelta:
    cert = x509.load_der_x509_certificate(certificate_der)
    return cert.not_valid_after_utc - cert.not_valid_before_utc


def test_a_batch_with_a_30_day_policy_gets_30_day_certificates(site: Site) -> None:
    policy = site.instance.create_policy(f"month-{secrets.token_hex(4)}", certificate_days=30).name
    site.instance.set_batch_policy(site.batch, policy)
    result = site.enrol(site.device())
    assert _lifetime(result.certificate_der) == timedelta(days=30, minutes=5)  # 5 minutes' backdating
    entries = site.instance.list_activity().items
    assert any(e.action == "device.enrol" and f"policy {policy}" in e.details for e in entries)


def test_an_edited_policy_applies_from_the_next_enrolment(site: Site) -> None:
    policy = site.instance.create_policy(f"edited-{secrets.token_hex(4)}", certificate_days=30).name
    site.instance.set_batch_policy(site.batch, policy)
    keys = site.device()
    first = site.enrol(keys)
    site.instance.update_policy(policy, certificate_days=90)
    second = site.enrol(keys)
    assert _lifetime(first.certificate_der).days == 30
    assert _lifetime(second.certificate_der).days == 90


def test_moving_the_batch_back_to_the_default_policy_gives_its_terms(site: Site) -> None:
    policy = site.instance.create_policy(f"week-{secrets.token_hex(4)}", certificate_days=7).name
    site.instance.set_batch_policy(site.batch, policy)
    keys = site.device()
    assert _lifetime(site.enrol(keys).certificate_der).days == 7
    site.instance.set_batch_policy(site.batch, DEFAULT_POLICY)
    default_days = site.instance.get_policy(DEFAULT_POLICY).certificate_days
    assert _lifetime(site.enrol(keys).certificate_der).days == default_days
