"""Policies: the terms a batch's devices enrol under (certificate lifetime, auto-renew, JWT lifetime,
type of connection), one row each, named by the batches that use them.

Batches keep their policy as a name, so a policy cannot be renamed and cannot be deleted while a batch
names it; the built-in `default` (what a batch gets when none is given) cannot be deleted at all.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from app.domain.errors import ConflictError, NotFoundError, ValidationError
from app.domain.kinds import ConnectionType
from app.domain.names import validate_name
from app.domain.records import Page, PageRequest, Policy, shown_int
from app.instance.api import (
    DEFAULT_CERTIFICATE_DAYS,
    DEFAULT_JWT_MINUTES,
    DEFAULT_POLICY,
    MAX_CERTIFICATE_DAYS,
    MAX_JWT_MINUTES,
)
from app.instance.local.database import from_ms, now_ms
from app.system.sqlite_paging import fetch_page, search_clause

BATCHES_NAMED = 5  # batches a refused delete names before "and N more"

_USERS = "(SELECT count(*) FROM batches AS b WHERE b.policy = p.name)"
_COLUMNS = f"p.name, p.connection, p.certificate_days, p.auto_renew, p.jwt_minutes, p.created_ms, {_USERS}"


@dataclass(frozen=True)
class PolicyChange:
    """What a policy's values are, for creating or changing it; None keeps the current value."""

    connection: ConnectionType | None = None
    certificate_days: int | None = None
    auto_renew: bool | None = None
    jwt_minutes: int | None = None


def create(conn: sqlite3.Connection, name: str, terms: PolicyChange) -> Policy:
    policy_name = validate_name(name, "policy")
    if conn.execute("SELECT 1 FROM policies WHERE name = ?", (policy_name,)).fetchone() is not None:
        raise ConflictError(f"a policy named {policy_name!r} already exists")
    connection, days, renew, jwt = _checked(terms, _defaults())
    conn.execute(
        "INSERT INTO policies (name, connection, certificate_days, auto_renew, jwt_minutes, created_ms) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (policy_name, connection.value, days, int(renew), jwt, now_ms()),
    )
    return get(conn, policy_name)


def update(conn: sqlite3.Connection, name: str, terms: PolicyChange) -> tuple[Policy, Policy]:
    """Change a policy's terms (those given); returns it before and after, for the activity entry.

    Devices already enrolled keep the certificate they have; the new terms apply from their next
    enrolment or renewal.
    """
    before = get(conn, name)
    connection, days, renew, jwt = _checked(terms, before)
    conn.execute(
        "UPDATE policies SET connection = ?, certificate_days = ?, auto_renew = ?, jwt_minutes = ? "
        "WHERE name = ?",
        (connection.value, days, int(renew), jwt, before.name),
    )
    return before, get(conn, before.name)


def delete(conn: sqlite3.Connection, name: str) -> Policy:
    policy = get(conn, name)
    if policy.name == DEFAULT_POLICY:
        raise ConflictError(
            f"the {DEFAULT_POLICY!r} policy cannot be deleted: it is what a batch gets when none is named. "
            "Edit its terms instead"
        )
    users = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM batches WHERE policy = ? ORDER BY name LIMIT ?", (policy.name, BATCHES_NAMED)
        )
    ]
    if users:
        named = ", ".join(repr(b) for b in users)
        more = policy.batches - len(users)
        if more > 0:
            named += f" and {more} more"
        one = policy.batches == 1
        raise ConflictError(
            f"policy {policy.name!r} cannot be deleted: batch{'' if one else 'es'} {named} "
            f"use{'s' if one else ''} it. Give {'it' if one else 'them'} another policy first "
            "(ql-station batch set-policy BATCH POLICY)"
        )
    conn.execute("DELETE FROM policies WHERE name = ?", (policy.name,))
    return policy


def get(conn: sqlite3.Connection, name: str) -> Policy:
    row = conn.execute(f"SELECT {_COLUMNS} FROM policies AS p WHERE p.name = ?", (name.strip(),)).fetchone()  # noqa: S608
    if row is None:
        raise NotFoundError(_unknown(conn, name.strip()))
    return _policy(row)


def require(conn: sqlite3.Connection, name: str) -> str:
    """The name of an existing policy, for a batch to use; NotFoundError says which exist."""
    policy_name = validate_name(name, "policy")
    if conn.execute("SELECT 1 FROM policies WHERE name = ?", (policy_name,)).fetchone() is None:
        raise NotFoundError(_unknown(conn, policy_name))
    return policy_name


def list_policies(conn: sqlite3.Connection, page: PageRequest) -> Page[Policy]:
    where, params = search_clause(("p.name", "p.connection"), page.search)
    return fetch_page(
        conn,
        select=_COLUMNS,
        table="policies AS p",
        where=where,
        params=params,
        order_by="p.name",
        page=page,
        row_to_item=_policy,
    )


def _unknown(conn: sqlite3.Connection, name: str) -> str:
    known = [row[0] for row in conn.execute("SELECT name FROM policies ORDER BY name LIMIT 11")]
    listed = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
    return (
        f"there is no policy named {name!r}; create it first (ql-station policy create {name}) "
        f"or use one of: {listed}"
    )


def _defaults() -> Policy:
    return Policy(
        name="",
        connection=ConnectionType.NONE,
        certificate_days=DEFAULT_CERTIFICATE_DAYS,
        auto_renew=True,
        jwt_minutes=DEFAULT_JWT_MINUTES,
        created_at=from_ms(0),
    )


def _checked(terms: PolicyChange, base: Policy) -> tuple[ConnectionType, int, bool, int]:
    connection = base.connection if terms.connection is None else terms.connection
    if not isinstance(connection, ConnectionType):
        raise ValidationError(f"connection type must be one of {', '.join(c.value for c in ConnectionType)}")
    days = base.certificate_days if terms.certificate_days is None else terms.certificate_days
    _check_range(days, 1, MAX_CERTIFICATE_DAYS, "a device certificate's lifetime", "days")
    jwt = base.jwt_minutes if terms.jwt_minutes is None else terms.jwt_minutes
    _check_range(jwt, 1, MAX_JWT_MINUTES, "a JWT's lifetime", "minutes")
    renew = base.auto_renew if terms.auto_renew is None else terms.auto_renew
    if not isinstance(renew, bool):
        raise ValidationError("auto-renew must be true or false")
    return connection, days, renew, jwt


def _check_range(value: object, low: int, high: int, what: str, unit: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(f"{what} must be a whole number of {unit}")
    if not low <= value <= high:
        raise ValidationError(f"{what} must be {low} to {high:,} {unit}; got {shown_int(value)}")


def _policy(row: tuple[Any, ...]) -> Policy:
    return Policy(
        name=row[0],
        connection=ConnectionType(row[1]),
        certificate_days=row[2],
        auto_renew=bool(row[3]),
        jwt_minutes=row[4],
        created_at=from_ms(row[5]),
        batches=row[6],
    )
