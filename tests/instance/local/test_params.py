"""Endpoint and port checks for the IEF parameters."""

from __future__ import annotations

import pytest

from app.domain.errors import ValidationError
from app.instance.local.params import validate_endpoint, validate_port


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("iot.example.com", "iot.example.com"),
        (" station-01.local ", "station-01.local"),
        ("10.0.0.5", "10.0.0.5"),
        ("[::1]", "::1"),
        ("fully.qualified.", "fully.qualified."),
        ("a" * 63, "a" * 63),
    ],
)
def test_good_endpoints(given: str, kept: str) -> None:
    assert validate_endpoint(given) == kept


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "cannot be empty"),
        ("a" * 64, "must be 1-63 letters"),
        ("host name", "is not a valid hostname"),
        ("a..b", "part '' must be"),
        ("x-.com", "part 'x-' must be"),
        ("https://host", "is not a valid hostname"),
    ],
)
def test_bad_endpoints(given: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validate_endpoint(given)


@pytest.mark.parametrize(
    ("port", "message"), [(0, "got 0"), (70000, "got 70000"), (True, "whole number"), ("80", "whole number")]
)
def test_bad_ports(port: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validate_port(port)  # type: ignore[arg-type]
