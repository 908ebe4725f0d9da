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
        assert self._frame is not None
        if self._bad:
            return
        if not self._escaped and b"\xdb" not in chunk:
            self._frame += chunk
            return
        for byte in chunk:
            if self._escaped:
                self._escaped = False
                if byte == ESC_END:
                    self._frame.append(END)
                elif byte == ESC_ESC:
                    self._frame.append(ESC)
                else:  # invalid escape: the ROM drops the frame
                    self._bad = True
                    return
            elif byte == ESC:
                self._escaped = True
            else:
                self._frame.append(byte)
