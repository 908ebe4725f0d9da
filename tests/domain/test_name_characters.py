"""Names may hold only visible characters: control, format and separator characters are refused by name."""

from __future__ import annotations

import re

import pytest

from app.domain.errors import ValidationError
from app.domain.names import validate_name, validate_username


@pytest.mark.parametrize(
    ("value", "code_point", "position"),
    [
        ("line\u202e1", "U+202E", 5),
        ("line\u20281", "U+2028", 5),
        ("line1\u2029", "U+2029", 6),
        ("\u200bname", "U+200B", 1),
        ("a\x85b", "U+0085", 2),
        ("a\x9bb", "U+009B", 2),
        ("a\x00b", "U+0000", 2),
        ("a\ufeffb", "U+FEFF", 2),
        ("a\udcffb", "U+DCFF", 2),
        ("name\n", "U+000A", 5),
    ],
)
def test_invisible_characters_are_named_by_position(value: str, code_point: str, position: int) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"{code_point}")) as caught:
        validate_name(value, "batch")
    assert f"position {position}" in str(caught.value)


@pytest.mark.parametrize("value", ["bob\u2028", "\x1cbob", "bob\x85"])
def test_usernames_are_not_trimmed_of_control_characters(value: str) -> None:
    with pytest.raises(ValidationError, match="U\\+"):
        validate_username(value)


@pytest.mark.parametrize("value", ["Línea 1", "バッチ", "batch-ü 2", "emoji \U0001f680"])
def test_visible_text_in_any_script_is_kept(value: str) -> None:
    assert validate_name(f"  {value} ", "batch") == value
