"""What a batch's policy decides at enrolment: how long a device certificate lives, whether the device
may renew it, and how long its JWT lives.

The enrolment service asks here, inside its own transaction, so a device enrols under its batch's policy
as it is at that moment (`app/instance/local/policies.py` keeps the policies).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import timedelta

from app.domain.kinds import ConnectionType
from app.instance.local import policies


@dataclass(frozen=True)
class PolicyTerms:
    name: str
    certificate_lifetime: timedelta
    auto_renew: bool
    jwt_lifetime: timedelta
    connection: ConnectionType


def terms_of(conn: sqlite3.Connection, policy: str) -> PolicyTerms:
    """The terms of `policy` as stored now; NotFoundError for a name no policy has."""
    found = policies.get(conn, policy)
    return PolicyTerms(
        name=found.name,
        certificate_lifetime=timedelta(days=found.certificate_days),
        auto_renew=found.auto_renew,
        jwt_lifetime=timedelta(minutes=found.jwt_minutes),
        connection=found.connection,
    )
