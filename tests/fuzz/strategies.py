"""Hypothesis strategies shared by the fuzz tests: DeviceIDs, JSON documents and byte-level mutations."""

from __future__ import annotations

from hypothesis import strategies as st

# A real DeviceID is a SHA-256: never one digit repeated (parse_device_id refuses those on purpose).
hex_device_ids = st.binary(min_size=32, max_size=32).map(bytes.hex).filter(lambda text: len(set(text)) > 1)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=70),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` with a few bytes flipped, inserted, deleted or the tail cut: near-valid input, where
    parsers keep going deepest before they trip."""
    result = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        if not result:
            break
        at = draw(st.integers(0, len(result) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "set"]))
        if action == "flip":
            result[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "set":
            result[at] = draw(st.sampled_from([0x00, 0xFF, 0xE9, 0xE7, 0xAA, 0x50, 0xEB, 0x7F, 0x80]))
        elif action == "insert":
            result[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del result[at : at + draw(st.integers(1, 8))]
        else:
            del result[at:]
    return bytes(result)
