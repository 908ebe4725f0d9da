"""Instance users and who may do what.

Whoever can open the database file is already trusted like a local administrator, so opening without a
user acts as the built-in account `station` (never stored, never able to sign in). The station's front
ends use that only before the instance has its first user, or in the serving process; once users exist
they act as the user who signed in with a password (`app.instance.station_access`). Named users have a
role: contributors do everything except manage users. There must always be an administrator among the
stored users once any exist, so a later remote sign-in can still manage them; the front ends make the
first user an administrator. Passwords follow `passwords.check_password_rules` (length, not the user
name, not a common one).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from app.domain.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from app.domain.kinds import Role
from app.domain.names import validate_username
from app.domain.records import Page, PageRequest, User
from app.instance.local.database import from_ms, now_ms
from app.instance.local.passwords import burn_time, check_password_rules, hash_password, verify_password
from app.system.sqlite_paging import fetch_page, search_clause

STATION_ACTOR = "station"
_COLUMNS = "username, role, created_ms"


def role_of(conn: sqlite3.Connection, actor: str) -> Role:
    """The acting user's current role (read each time, so a demotion takes effect at once)."""
    if actor == STATION_ACTOR:
        return Role.ADMINISTRATOR
    row = conn.execute("SELECT role FROM users WHERE username = ?", (actor,)).fetchone()
    if row is None:
        raise PermissionDeniedError(f"user {actor!r} no longer exists on this instance; sign in again")
    return Role(row[0])


def require_user_manager(conn: sqlite3.Connection, actor: str) -> None:
    if role_of(conn, actor) is not Role.ADMINISTRATOR:
        raise PermissionDeniedError(
            f"{actor!r} is a contributor; only an administrator can create, change or delete users"
        )


def canonical_actor(conn: sqlite3.Connection, username: str) -> str:
    """The stored spelling of an existing user, for `LocalInstance.open(actor=...)`."""
    row = conn.execute("SELECT username FROM users WHERE username = ?", (username.strip(),)).fetchone()
    if row is None:
        raise NotFoundError(f"there is no user named {username.strip()!r} on this instance")
    return str(row[0])


def create(conn: sqlite3.Connection, username: str, password: str, role: Role) -> User:
    name = validate_username(username)
    if not isinstance(role, Role):
        raise ValidationError(f"role must be one of {', '.join(r.value for r in Role)}")
    check_password_rules(password, name)
    if name.lower() == STATION_ACTOR:
        raise ConflictError(f"{STATION_ACTOR!r} is the built-in local account; choose another username")
    if _find(conn, name) is not None:
        raise ConflictError(f"a user named {name!r} already exists")
    created = now_ms()
    conn.execute(
        "INSERT INTO users (username, role, password_hash, created_ms) VALUES (?, ?, ?, ?)",
        (name, role.value, hash_password(password), created),
    )
    return User(username=name, role=role, created_at=from_ms(created))


def get(conn: sqlite3.Connection, username: str) -> User:
    user = _find(conn, username.strip())
    if user is None:
        raise NotFoundError(f"there is no user named {username.strip()!r}")
    return user


def list_users(conn: sqlite3.Connection, page: PageRequest) -> Page[User]:
    where, params = search_clause(("username", "role"), page.search)
    return fetch_page(
        conn,
        select=_COLUMNS,
        table="users",
        where=where,
        params=params,
        order_by="username COLLATE NOCASE",
        page=page,
        row_to_item=_user,
    )


def set_role(conn: sqlite3.Connection, username: str, role: Role) -> tuple[User, Role]:
    """Change a role; returns the user and the role it had before."""
    user = get(conn, username)
    if user.role is Role.ADMINISTRATOR and role is not Role.ADMINISTRATOR:
        _refuse_if_last_admin(conn, user.username, "demoted")
    conn.execute("UPDATE users SET role = ? WHERE username = ?", (role.value, user.username))
    return User(username=user.username, role=role, created_at=user.created_at), user.role


def delete(conn: sqlite3.Connection, username: str) -> User:
    user = get(conn, username)
    if user.role is Role.ADMINISTRATOR:
        _refuse_if_last_admin(conn, user.username, "deleted")
    conn.execute("DELETE FROM users WHERE username = ?", (user.username,))
    return user


def authenticate(conn: sqlite3.Connection, username: str, password: str) -> User:
    """The same message for an unknown user and a wrong password: it must not reveal which."""
    row = conn.execute(
        "SELECT username, role, created_ms, password_hash FROM users WHERE username = ?", (username.strip(),)
    ).fetchone()
    if row is None:
        burn_time(password)
    elif verify_password(password, row[3]):
        return _user(row)
    raise PermissionDeniedError("wrong username or password")


def _refuse_if_last_admin(conn: sqlite3.Connection, username: str, change: str) -> None:
    others = conn.execute(
        "SELECT count(*) FROM users WHERE role = ? AND username != ?", (Role.ADMINISTRATOR.value, username)
    ).fetchone()[0]
    if others == 0:
        raise ConflictError(
            f"{username!r} is the last administrator and cannot be {change}; make another user an "
            "administrator first"
        )


def _find(conn: sqlite3.Connection, username: str) -> User | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM users WHERE username = ?", (username,)).fetchone()  # noqa: S608
    return None if row is None else _user(row)


def _user(row: tuple[Any, ...]) -> User:
    return User(username=row[0], role=Role(row[1]), created_at=from_ms(row[2]))
