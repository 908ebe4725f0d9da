"""Firmware attributes and a batch's attribute filters: which firmwares a batch may be offered.

A firmware carries attributes (`hw=rev2`, `region=eu`); a batch carries filters in the same form. The
filters combine as AND between keys and OR within a key: `region=eu, region=us, hw=rev2` passes a
firmware whose `region` is eu or us AND whose `hw` is rev2. A batch without filters takes any firmware.
One rule, kept here, for the instance (which refuses and skips firmwares that fail) and the UI.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.domain.errors import ValidationError
from app.domain.names import validate_name

MAX_ATTRIBUTES = 32
MAX_VALUE_LENGTH = 64
MAX_VERSION_LENGTH = 32  # the version field of an ESP-IDF app description is 32 bytes
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z._+~-]*")


def validate_version(version: str) -> str:
    """A firmware version as devices report it: 1..32 of letters, digits and `. _ + ~ -`."""
    if not isinstance(version, str):
        raise ValidationError("a firmware version must be text, e.g. 2.1.0")
    text = version.strip()
    if not text:
        raise ValidationError("a firmware version cannot be empty; give one such as 2.1.0")
    if len(text) > MAX_VERSION_LENGTH or not _VERSION.fullmatch(text):
        raise ValidationError(
            f"firmware version {text[:40]!r} must be 1 to {MAX_VERSION_LENGTH} letters, digits and . _ + ~ - "
            "(starting with a letter or digit), as the app description of an ESP-IDF image holds it"
        )
    return text


def validate_attributes(
    pairs: Sequence[tuple[str, str]], what: str = "attribute"
) -> tuple[tuple[str, str], ...]:
    """(key, value) pairs with visible keys and short values; a firmware's keys must not repeat."""
    if isinstance(pairs, str | bytes):
        raise ValidationError(f"{what}s are a list of (key, value) pairs")
    if len(pairs) > MAX_ATTRIBUTES:
        raise ValidationError(f"at most {MAX_ATTRIBUTES} {what}s; got {len(pairs)}")
    result: list[tuple[str, str]] = []
    for index, item in enumerate(pairs):
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise ValidationError(f"{what} #{index} must be a (key, value) pair, written KEY=VALUE")
        key, value = item
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValidationError(f"{what} #{index} must have text for its key and value")
        name = validate_name(key, f"{what} key")
        text = value.strip()
        if len(text) > MAX_VALUE_LENGTH:
            raise ValidationError(f"the value of {what} {name!r} is over {MAX_VALUE_LENGTH} characters")
        result.append((name, text))
    return tuple(result)


def unique_keys(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """A firmware has one value per attribute key: `hw=rev1 hw=rev2` is refused, naming the key."""
    seen: set[str] = set()
    for key, _value in pairs:
        if key in seen:
            raise ValidationError(f"attribute {key!r} is given twice; a firmware has one value per attribute")
        seen.add(key)
    return pairs


def parse_pair(text: str, what: str = "attribute") -> tuple[str, str]:
    """`KEY=VALUE` as typed on a command line or in a form field."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValidationError(f"{what} {text!r} must be written KEY=VALUE, e.g. hw=rev2")
    return key.strip(), value.strip()


def passes(filters: Sequence[tuple[str, str]], attributes: Sequence[tuple[str, str]]) -> bool:
    """AND between filter keys, OR between the values given for one key; no filters pass everything."""
    wanted: dict[str, set[str]] = {}
    for key, value in filters:
        wanted.setdefault(key, set()).add(value)
    have = dict(attributes)
    return all(have.get(key) in values for key, values in wanted.items())


def describe_filters(filters: Sequence[tuple[str, str]]) -> str:
    """`(region=eu OR region=us) AND hw=rev2`, for messages and pages; '' for none."""
    groups: dict[str, list[str]] = {}
    for key, value in filters:
        groups.setdefault(key, []).append(f"{key}={value}")
    parts = [" OR ".join(g) if len(g) == 1 else "(" + " OR ".join(g) + ")" for g in groups.values()]
    return " AND ".join(parts)
