"""SLIP framing as the ESP ROM loader and flasher stub use it on the UART.

A frame is 0xC0 <payload with 0xC0 -> 0xDB 0xDC and 0xDB -> 0xDB 0xDD> 0xC0. Bytes outside a frame
(boot noise, a host typing at the wrong baud rate) are ignored by the chip, so the decoder drops them.
"""

from __future__ import annotations

END = 0xC0
ESC = 0xDB
ESC_END = 0xDC
ESC_ESC = 0xDD


def encode(payload: bytes) -> bytes:
    return b"\xc0" + payload.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


class SlipDecoder:
    """Incremental decoder: feed any chunking of the byte stream, get whole payloads back in order."""

    def __init__(self) -> None:
        self._frame: bytearray | None = None
        self._escaped = False
        self._bad = False

    def reset(self) -> None:
        self._frame = None
        self._escaped = False
        self._bad = False

    def feed(self, data: bytes) -> list[bytes]:
        packets: list[bytes] = []
        pos = 0
        while pos < len(data):
            if self._frame is None:
                start = data.find(b"\xc0", pos)
                if start < 0:
                    break
                self._frame = bytearray()
                self._escaped = self._bad = False
                pos = start + 1
                continue
            end = data.find(b"\xc0", pos)
            chunk = data[pos:] if end < 0 else data[pos:end]
            self._append(chunk)
            if end < 0:
                break
            pos = end + 1
            if self._frame and not self._bad:
                packets.append(bytes(self._frame))
                self._frame = None
            else:  # an empty frame (c0 c0) is a boundary; a bad one is dropped
                self._frame = bytearray()
                self._escaped = self._bad = False
        return packets

    def _append(self, chunk: bytes) -> None:
        """Unescape `chunk` into the frame in bulk, with `bytes.replace`.

        Compressed flash data is random-like, so an escape comes every ~128 bytes; walking a MiB byte by
        byte in Python cost the simulator about a third of a CPU-second per board, and even one Python
        step per escape was most of what is left of its cost. A chunk is valid when every 0xDB in it
        starts an escape pair (0xDB 0xDC or 0xDB 0xDD): the pairs cannot overlap, so counting them tells.
        A chunk that ends in 0xDB leaves its code to the next one.
        """
        assert self._frame is not None
        if self._bad or not chunk:
            return
        if self._escaped:
            self._escaped = False
            if not self._unescape(chunk[0]):
                return
            chunk = chunk[1:]
        if chunk.endswith(b"\xdb"):
            chunk = chunk[:-1]
            self._escaped = True
        escapes = chunk.count(b"\xdb")
        if not escapes:
            self._frame += chunk
            return
        if escapes != chunk.count(b"\xdb\xdc") + chunk.count(b"\xdb\xdd"):
            self._bad = True  # an invalid escape code: the ROM drops the frame
            return
        self._frame += chunk.replace(b"\xdb\xdc", b"\xc0").replace(b"\xdb\xdd", b"\xdb")

    def _unescape(self, code: int) -> bool:
        """Append the byte an escape code stands for; an invalid code makes the ROM drop the frame."""
        assert self._frame is not None
        if code == ESC_END:
            self._frame.append(END)
        elif code == ESC_ESC:
            self._frame.append(ESC)
        else:
            self._bad = True
            return False
        return True
