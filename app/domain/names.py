"""Rules for the names people give things (batches, keys, tasks, images, users)."""

from __future__ import annotations

import re

from app.domain.errors import ValidationError

MAX_NAME_LENGTH = 64
_USERNAME = re.compile(r"[A-Za-z0-9_-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_name(value: str, what: str) -> str:
    """A display name: 1..64 characters, no control characters, no leading/trailing spaces kept."""
    name = value.strip()
    if not name:
        raise ValidationError(f"{what} name cannot be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(f"{what} name is {len(name)} characters; at most {MAX_NAME_LENGTH} are allowed")
    if _CONTROL.search(name):
        raise ValidationError(f"{what} name {name!r} contains a control character")
    return name


def validate_username(value: str) -> str:
    """Usernames are letters, digits, '-' and '_' only (the instance's own rule)."""
    name = value.strip()
    if not name:
        raise ValidationError("username cannot be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(f"username is {len(name)} characters; at most {MAX_NAME_LENGTH} are allowed")
    if not _USERNAME.fullmatch(name):
        bad = next(ch for ch in name if not _USERNAME.fullmatch(ch))
        raise ValidationError(
            f"username {name!r} may contain only letters, digits, '-' and '_'; {bad!r} is not allowed"
        )
    return name
