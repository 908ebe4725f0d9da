"""Enrolment protocol lines, as a hostile device sends them: any bytes give a parsed message or a
ProtocolError with a code and a message; never another exception or a hang."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app.enrolment import protocol
from app.enrolment.protocol import ErrorCode, ProtocolError

from .cases import fuzz_case
from .strategies import hex_device_ids

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
b64 = st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode())
field_values = st.one_of(json_values, b64, hex_device_ids, st.text(max_size=300))


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["hello", "enrol", "status", "firmware_get", "error", ""]))
    fields: dict[str, Any] = {"type": draw(st.one_of(st.just(kind), json_values))}
    for name in draw(
        st.sets(st.sampled_from(["version", "device_id", "epk", "csr", "signature", "firmware"]))
    ):
        fields[name] = draw(st.one_of(st.just(1), field_values))
    return json.dumps(fields).encode() + b"\n"


nested = st.integers(1, 8000).map(lambda depth: b"[" * depth + b"\n")  # past the parser's recursion
lines = st.one_of(
    messages(), nested, st.binary(max_size=400), st.text(max_size=200).map(lambda t: t.encode() + b"\n")
)


@given(lines)
def test_any_line_parses_or_is_refused_with_a_code(line: bytes) -> None:
    with fuzz_case("enrolment protocol lines"):
        try:
            message = protocol.decode_line(line)
            parsed = [
                parse(message)
                for parse in (protocol.parse_hello, protocol.parse_enrol, protocol.parse_status)
                if message["type"] == parse.__name__.removeprefix("parse_")
            ]
            if not parsed:
                protocol.expect_type(message, "hello")
        except ProtocolError as refusal:
            assert isinstance(refusal.code, ErrorCode) and refusal.message.strip()
