"""Firmware attributes and batch filters: AND between keys, OR within one key; versions as devices
report them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import ValidationError
from app.domain.firmware_attributes import (
    describe_filters,
    parse_pair,
    passes,
    unique_keys,
    validate_attributes,
    validate_version,
)

EU_OR_US_REV2 = [("region", "eu"), ("region", "us"), ("hw", "rev2")]


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ([("region", "eu"), ("hw", "rev2")], True),
        ([("region", "us"), ("hw", "rev2"), ("extra", "x")], True),
        ([("region", "apac"), ("hw", "rev2")], False),  # no value of the OR group
        ([("region", "eu"), ("hw", "rev1")], False),  # the AND fails
        ([("region", "eu")], False),  # a filtered key missing
        ([], False),
    ],
)
def test_and_between_keys_or_within_one(attributes: list[tuple[str, str]], expected: bool) -> None:
    assert passes(EU_OR_US_REV2, attributes) is expected


@given(st.lists(st.tuples(st.text(max_size=5), st.text(max_size=5)), max_size=6))
def test_no_filters_pass_everything(attributes: list[tuple[str, str]]) -> None:
    assert passes([], attributes)


def test_filters_are_described_as_they_combine() -> None:
    assert describe_filters(EU_OR_US_REV2) == "(region=eu OR region=us) AND hw=rev2"
    assert describe_filters([("hw", "rev2")]) == "hw=rev2"
    assert describe_filters([]) == ""


@pytest.mark.parametrize("good", ["2.1.0", "v1.0-rc1", "1", "2024.12.01+build.7", "a" * 32])
def test_versions_accepted(good: str) -> None:
    assert validate_version(f" {good} ") == good


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("", "cannot be empty"),
        ("2.1 beta", "letters, digits"),
        ("-1", "letters, digits"),
        ("1" * 33, "1 to 32"),
    ],
)
def test_versions_refused(bad: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validate_version(bad)


def test_pairs_and_their_refusals() -> None:
    assert parse_pair(" hw = rev2 ") == ("hw", "rev2")
    assert parse_pair("note=") == ("note", "")
    for bad in ("hw", "=rev2"):
        with pytest.raises(ValidationError, match="must be written KEY=VALUE"):
            parse_pair(bad)
    with pytest.raises(ValidationError, match="given twice"):
        unique_keys(validate_attributes([("hw", "a"), ("hw", "b")]))
    with pytest.raises(ValidationError, match="over 64 characters"):
        validate_attributes([("hw", "x" * 65)])
    with pytest.raises(ValidationError, match="at most 32"):
        validate_attributes([(f"k{i}", "v") for i in range(33)])
    with pytest.raises(ValidationError, match="invisible formatting character"):
        validate_attributes([("h\u200bw", "v")])
