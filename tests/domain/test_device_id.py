from __future__ import annotations

import hashlib

import pytest

from app.domain.device_id import parse_device_id
from app.domain.errors import ValidationError

VALID = hashlib.sha256(b"enrolment key").hexdigest()


def test_canonical_form_is_lowercase_and_trimmed() -> None:
    assert parse_device_id(f"  {VALID.upper()}\n") == VALID


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "cannot be empty"),
        (VALID[:-1], "exactly 64 hexadecimal characters, this one has 63"),
        (VALID + "0", "this one has 65"),
        (VALID[:10] + "g" + VALID[11:], "'g' at position 11 is not one"),
        (VALID[:32] + " " + VALID[33:], "' ' at position 33"),
        (42, "must be text, not int"),
        (None, "must be text, not NoneType"),
    ],
)
def test_bad_ids_say_what_is_wrong(value: object, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_device_id(value)
    assert message in str(err.value)
