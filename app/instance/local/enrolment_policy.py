"""What a batch's policy decides at enrolment: how long a device certificate lives.

Policies are names on batches today (the Policies page and `policy create` are still to come, issue #14),
so every policy name gets the terms of the built-in `default` policy. Keeping the lookup here means the
enrolment code already asks "what does this batch's policy say" and will not change when policies get
their own table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from app.instance.api import DEFAULT_POLICY

DEFAULT_CERTIFICATE_DAYS = 365


@dataclass(frozen=True)
class PolicyTerms:
    name: str
    certificate_lifetime: timedelta
    auto_renew: bool


_BUILT_IN = {
    DEFAULT_POLICY: PolicyTerms(DEFAULT_POLICY, timedelta(days=DEFAULT_CERTIFICATE_DAYS), auto_renew=True),
}


def terms_of(policy: str) -> PolicyTerms:
    """The terms of `policy`; a name with no terms of its own gets the default policy's terms."""
    known = _BUILT_IN.get(policy)
    if known is not None:
        return known
    default = _BUILT_IN[DEFAULT_POLICY]
    return PolicyTerms(policy, default.certificate_lifetime, default.auto_renew)
