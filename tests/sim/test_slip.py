from __future__ import annotations

import os

from app.sim.slip import SlipDecoder, encode


def test_round_trip_in_any_chunking() -> None:
    packets = [os.urandom(n) for n in (1, 7, 300)] + [b"\xc0\xdb\xc0\xdb\xdd\xdc"]
    stream = b"".join(encode(p) for p in packets)
    for size in (1, 2, 3, 64, len(stream)):
        decoder = SlipDecoder()
        got: list[bytes] = []
        for pos in range(0, len(stream), size):
            got += decoder.feed(stream[pos : pos + size])
        assert got == packets


def test_bytes_outside_frames_are_ignored() -> None:
    decoder = SlipDecoder()
    assert decoder.feed(b"boot noise\r\n" + encode(b"\x00\x08") + b"more noise") == [b"\x00\x08"]


def test_frame_with_invalid_escape_is_dropped() -> None:
    decoder = SlipDecoder()
    assert decoder.feed(b"\xc0ab\xdb\x01cd\xc0" + encode(b"next")) == [b"next"]


def test_escaping() -> None:
    assert encode(b"\xc0\xdb") == b"\xc0\xdb\xdc\xdb\xdd\xc0"


def test_escape_split_across_chunks() -> None:
    decoder = SlipDecoder()
    assert decoder.feed(b"\xc0ab\xdb") == []
    assert decoder.feed(b"\xdcz\xdb") == []
    assert decoder.feed(b"\xdd\xc0") == [b"ab\xc0z\xdb"]


def test_doubled_escape_byte_drops_the_frame() -> None:
    decoder = SlipDecoder()
    assert decoder.feed(b"\xc0ab\xdb\xdbcd\xc0" + encode(b"ok")) == [b"ok"]


def test_flash_sized_random_payload_in_uart_sized_chunks() -> None:
    payload = os.urandom(256 * 1024)  # random-like, as compressed flash data is: escapes every ~256 bytes
    stream = encode(payload)
    decoder = SlipDecoder()
    got: list[bytes] = []
    for pos in range(
        0, len(stream), 4093
    ):  # a prime chunk size puts escapes on every boundary sooner or later
        got += decoder.feed(stream[pos : pos + 4093])
    assert got == [payload]


def test_escaped_escape_followed_by_end_code_is_not_a_second_escape() -> None:
    # 0xDB 0xDD 0xDC is an escaped 0xDB then a plain 0xDC: never 0xC0, whichever order codes are undone
    decoder = SlipDecoder()
    assert decoder.feed(b"\xc0a\xdb\xdd\xdcb\xdb\xdc\xdd\xc0") == [b"a\xdb\xdcb\xc0\xdd"]


def test_invalid_escape_among_valid_ones_drops_the_frame() -> None:
    decoder = SlipDecoder()
    frame = b"\xc0" + b"x\xdb\xdc" * 50 + b"\xdb\x00" + b"y\xdb\xdd" * 50 + b"\xc0"
    assert decoder.feed(frame + encode(b"after")) == [b"after"]


def test_escape_byte_ending_a_chunk_after_an_escape_byte_drops_the_frame() -> None:
    decoder = SlipDecoder()
    assert decoder.feed(b"\xc0ab\xdb\xdb") == []
    assert decoder.feed(b"\xdccd\xc0" + encode(b"ok")) == [b"ok"]
