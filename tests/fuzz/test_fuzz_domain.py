"""Batch files, DeviceIDs and names: any input gives a correct result or a StationError, never a crash."""

from __future__ import annotations

import json
import re

from hypothesis import assume, given
from hypothesis import strategies as st

from app.domain.batch_file import BatchFileError, parse_batch_file
from app.domain.device_id import parse_device_id
from app.domain.errors import StationError
from app.domain.names import MAX_NAME_LENGTH, invisible_character, validate_name, validate_username

from .cases import fuzz_case, result_or_station_error
from .strategies import hex_device_ids, json_values, mutated

_LOWER_HEX64 = re.compile(r"[0-9a-f]{64}")


def _check_batch(data: bytes) -> None:
    result = result_or_station_error(lambda: parse_batch_file(data, source="fuzz.json"))
    if not isinstance(result, StationError):
        assert result and all(_LOWER_HEX64.fullmatch(device_id) for device_id in result)


@given(st.binary(max_size=2000))
def test_batch_file_any_bytes(data: bytes) -> None:
    with fuzz_case("batch file: bytes"):
        _check_batch(data)


@given(json_values)
def test_batch_file_any_json_document(document: object) -> None:
    with fuzz_case("batch file: JSON"):
        _check_batch(json.dumps(document).encode())
        _check_batch(json.dumps({"devices": document}).encode())


@given(
    st.lists(hex_device_ids, min_size=1, max_size=30), st.sampled_from([None, 0, 2]), st.booleans(), st.data()
)
def test_batch_file_round_trip_and_mutations(
    ids: list[str], indent: int | None, upper: bool, data: st.DataObject
) -> None:
    with fuzz_case("batch file: valid/mutated"):
        text = json.dumps({"devices": [i.upper() if upper else i for i in ids]}, indent=indent).encode()
        assert parse_batch_file(text) == ids
        _check_batch(data.draw(mutated(text)))


@given(st.lists(hex_device_ids, min_size=1, max_size=10), st.data(), json_values)
def test_batch_file_bad_item_is_named(ids: list[str], data: st.DataObject, bad: object) -> None:
    with fuzz_case("batch file: bad item"):
        assume(not (isinstance(bad, str) and re.fullmatch(r"[0-9a-fA-F]{64}", bad)))
        index = data.draw(st.integers(0, len(ids)))
        items: list[object] = [*ids[:index], bad, *ids[index:]]
        try:
            parse_batch_file(json.dumps({"devices": items}, indent=1).encode())
        except BatchFileError as error:
            assert f"device #{index + 1}" in str(error)
        else:
            raise AssertionError(f"{bad!r} was accepted as a DeviceID")


@given(st.integers(0, 3000), st.sampled_from(["[", "{", '{"a":']))
def test_batch_file_deep_nesting(depth: int, opener: str) -> None:
    with fuzz_case("batch file: nesting"):
        _check_batch(('{"devices": ' + opener * depth).encode())


@given(
    st.one_of(st.text(), st.binary(), st.integers(), st.none(), st.floats(), st.lists(st.text(), max_size=2))
)
def test_device_id_any_value(value: object) -> None:
    with fuzz_case("DeviceID: any value"):
        result = result_or_station_error(lambda: parse_device_id(value))
        if not isinstance(result, StationError):
            assert _LOWER_HEX64.fullmatch(result)


@given(hex_device_ids, st.text(" \t\r\n", max_size=3), st.text(" \t\r\n", max_size=3), st.booleans())
def test_device_id_round_trip(device_id: str, before: str, after: str, upper: bool) -> None:
    with fuzz_case("DeviceID: round trip"):
        assume(len(set(device_id)) > 1)  # one digit repeated is no SHA-256 (refused on purpose)
        given_text = before + (device_id.upper() if upper else device_id) + after
        assert parse_device_id(given_text) == device_id


@given(st.text(max_size=80), st.sampled_from(["batch", "signing key", "task", "image", "policy"]))
def test_names_any_text(text: str, what: str) -> None:
    with fuzz_case("names: any text"):
        result = result_or_station_error(lambda: validate_name(text, what))
        if isinstance(result, StationError):
            return
        assert invisible_character(text) is None
        assert result == text.strip() and 1 <= len(result) <= MAX_NAME_LENGTH
        assert validate_name(result, what) == result


@given(st.text(max_size=80))
def test_usernames_any_text(text: str) -> None:
    with fuzz_case("names: usernames"):
        result = result_or_station_error(lambda: validate_username(text))
        if not isinstance(result, StationError):
            assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", result)


@given(st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True))
def test_usernames_round_trip(name: str) -> None:
    with fuzz_case("names: username round trip"):
        assert validate_username(f" {name} ") == name
