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
