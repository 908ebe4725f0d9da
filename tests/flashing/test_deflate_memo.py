"""The station's ready-made zlib streams, given to esptool's write_flash in place of its own compress."""

from __future__ import annotations

import hashlib
import random
import zlib

from app.flashing import deflate_memo
from app.flashing.board_connection import BoardConnection, ResetMode
from app.flashing.deflate_memo import DeflateMemo, deflate
from app.flashing.esptool_runtime import DEFLATED, ESPTOOL_VERSION, cmds
from app.flashing.flash_events import FlashEvent, FlashLog

from .conftest import MockPeer
from .test_board_connection import _images


def test_compress_answers_from_the_memo_only_for_the_same_bytes() -> None:
    memo = DeflateMemo()
    data = random.Random(1).randbytes(8192) + bytes(8192)
    stream = zlib.compress(data, 1)  # another level: any valid stream of the data will do
    memo.offer(data, stream)
    assert memo.compress(bytes(bytearray(data)), 9) is stream  # equal bytes, another object
    changed = data[:-1] + b"\x01"
    assert zlib.decompress(memo.compress(changed, 9)) == changed  # other data: compressed as before
    assert memo.compress(data[:4096], 9) == zlib.compress(data[:4096], 9)
    assert memo.hits == 1


def test_esptool_5_6_is_routed_through_the_memo_and_others_are_left_alone() -> None:
    assert DEFLATED is not None, f"esptool {ESPTOOL_VERSION}: the memo should be installed"
    assert deflate_memo.install(cmds, ESPTOOL_VERSION) is DEFLATED  # idempotent
    assert cmds.zlib.decompressobj is zlib.decompressobj  # the rest of zlib is zlib's
    assert deflate_memo.install(cmds, "6.0.0") is DEFLATED  # already routed: the same memo


def test_write_flash_sends_the_offered_stream(mock_c3: MockPeer) -> None:
    """Against the independent mock bootloader: the flash holds the image, and esptool took our stream
    (one made at level 1, which esptool would never make itself) instead of compressing."""
    assert DEFLATED is not None
    images = _images(120 * 1024)
    streams = [zlib.compress(i.data, 1) for i in images]
    events: list[FlashEvent] = []
    before = DEFLATED.hits
    with BoardConnection.open(mock_c3.url, reset=ResetMode.NO_RESET, sink=events.append) as board:
        board.run_stub()
        result = board.write_images(images, skip_unchanged=False, deflated=streams)
        readback = [board.flash_md5(image.offset, len(image.data)) for image in images]
    assert result.verified == (True, True, True)
    assert readback == [hashlib.md5(i.data, usedforsecurity=False).hexdigest() for i in images]
    assert DEFLATED.hits - before == len(images)
    compressed = [e.text for e in events if isinstance(e, FlashLog) and e.text.startswith("Compressed ")]
    bootloader = images[0].data  # compressible (the random IEF is sent as it is, by esptool's own rule)
    assert len(streams[0]) != len(deflate(bootloader))
    assert f"Compressed {len(bootloader)} bytes to {len(streams[0])}..." in compressed


def test_deflate_is_what_esptool_asks_for() -> None:
    data = bytes(range(256)) * 64
    assert deflate(data) == zlib.compress(data, 9)
