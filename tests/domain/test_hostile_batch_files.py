"""Batch files built to break a parser: each is rejected whole with a sentence, never a traceback."""

from __future__ import annotations

import json
import secrets

import pytest

from app.domain.batch_file import BatchFileError, parse_batch_file


def test_nesting_a_thousand_levels_deep() -> None:
    data = b'{"devices": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    with pytest.raises(BatchFileError, match="nested"):
        parse_batch_file(data)


def test_nesting_deeper_than_the_interpreter_stack() -> None:
    data = b"[" * 200_000 + b"]" * 200_000
    with pytest.raises(BatchFileError, match="nested"):
        parse_batch_file(data)


def test_five_thousand_digit_integer_is_a_number_not_a_crash() -> None:
    data = b'{"devices": [' + b"1" * 5000 + b"]}"
    with pytest.raises(BatchFileError, match="device #1: expected a DeviceID string, found a number"):
        parse_batch_file(data)


def test_huge_integer_in_a_file_with_line_numbers_to_work_out() -> None:
    good = secrets.token_hex(32)
    data = f'{{"devices": [\n"{good}",\n{"9" * 5000},\n"x"]}}'.encode()
    with pytest.raises(BatchFileError, match="line 3, device #2") as caught:
        parse_batch_file(data)
    assert "line 4, device #3" in str(caught.value)


def test_duplicate_devices_key_is_named() -> None:
    good = secrets.token_hex(32)
    data = f'{{"devices": [], "devices": ["{good}"]}}'.encode()
    with pytest.raises(BatchFileError, match='key "devices" appears 2 times'):
        parse_batch_file(data)


def test_duplicate_key_in_a_nested_object_is_named() -> None:
    data = json.dumps({"devices": ["x"]})[:-1].encode() + b', "meta": {"a": 1, "a": 2}}'
    with pytest.raises(BatchFileError, match='key "a" appears 2 times'):
        parse_batch_file(data)


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_json_constants_are_refused(constant: bytes) -> None:
    with pytest.raises(BatchFileError, match="not valid JSON"):
        parse_batch_file(b'{"devices": [' + constant + b"]}")


def test_a_64_digit_number_is_not_a_device_id() -> None:
    with pytest.raises(BatchFileError, match="found a number"):
        parse_batch_file(b'{"devices": [' + b"1234567890" * 6 + b"1234]}")
