"""Rules for the names people give things (batches, keys, tasks, images, users).

A name is shown in tables, logs and exports and compared by eye, so it may hold only characters a person
can see: control characters, invisible formatting characters (a right-to-left override makes
"line-1" display as something else; a zero-width space makes two names look equal), line and paragraph
separators, and lone surrogates (bytes that were not UTF-8) are refused, naming the character and where
it is. They are refused wherever they are, also at the ends, rather than trimmed away silently.
"""

from __future__ import annotations

import re
import unicodedata

from app.domain.errors import ValidationError

MAX_NAME_LENGTH = 64
_USERNAME = re.compile(r"[A-Za-z0-9_-]+")
_INVISIBLE = {
    "Cc": "a control character",
    "Cf": "an invisible formatting character",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
    "Cs": "an unpaired surrogate (the text was not valid UTF-8)",
}


def invisible_character(text: str) -> tuple[int, str, str] | None:
    """The first character a person cannot see, as (1-based position, character, what it is), or None."""
    for index, char in enumerate(text):
        kind = _INVISIBLE.get(unicodedata.category(char))
        if kind is not None:
            return index + 1, char, kind
    return None


def describe_character(char: str) -> str:
    """`U+202E (RIGHT-TO-LEFT OVERRIDE)`: a character named so a person can find it in an editor."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X} ({name})" if name else f"U+{ord(char):04X}"


def check_visible(text: str, what: str) -> None:
    """Raise ValidationError if `text` holds a character a person cannot see; `what` names the text."""
    found = invisible_character(text)
    if found is None:
        return
    position, char, kind = found
    raise ValidationError(
        f"{what} {text!r} contains {kind}, {describe_character(char)}, at position {position}; "
        "only visible characters and spaces are allowed"
    )


def validate_name(value: str, what: str) -> str:
    """A display name: 1..64 visible characters, leading/trailing spaces not kept."""
    check_visible(value, f"{what} name")
    name = value.strip()
    if not name:
        raise ValidationError(f"{what} name cannot be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(f"{what} name is {len(name)} characters; at most {MAX_NAME_LENGTH} are allowed")
    return name


def validate_username(value: str) -> str:
    """Usernames are letters, digits, '-' and '_' only (the instance's own rule)."""
    check_visible(value, "username")
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
