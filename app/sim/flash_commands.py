"""Flash commands of the ROM loader and the flasher stub: write (plain and deflated), MD5, read, erase.

The two differ where esptool relies on the difference: the ROM erases the whole region when a write
begins and returns MD5 as 32 hex characters; the stub erases sector by sector as data arrives, returns
MD5 as 16 raw bytes, streams reads with acknowledgements and can erase regions or the whole chip.
A flash write on NOR flash can only clear bits, so data is ANDed into what is there.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from app.sim.flash import SECTOR_SIZE, Flash, FlashRangeError

# Error codes sent in the status bytes (ROM: 0x05..0x0B, stub: 0xC0..0xFF), as esptool decodes them.
ROM_INVALID_MESSAGE = 0x05
ROM_FAILED_TO_ACT = 0x06
ROM_BAD_CHECKSUM = 0x07
ROM_FLASH_WRITE_ERROR = 0x08
ROM_FLASH_READ_ERROR = 0x09
ROM_DEFLATE_ERROR = 0x0B
STUB_BAD_DATA_LEN = 0xC0
STUB_BAD_CHECKSUM = 0xC1
STUB_BAD_BLOCKSIZE = 0xC2
STUB_INVALID_COMMAND = 0xC3
STUB_SPI_FAILED = 0xC4
STUB_NOT_IN_FLASH_MODE = 0xC6
STUB_INFLATE_ERROR = 0xC7
STUB_TOO_MUCH_DATA = 0xC9
STUB_NOT_IMPLEMENTED = 0xFF


class CommandError(Exception):
    """The command fails with this error code in its status bytes."""

    def __init__(self, code: int) -> None:
        super().__init__(f"error {code:#04x}")
        self.code = code


def checksum(data: bytes) -> int:
    value = int.from_bytes(data, "little")
    size = len(data)
    while size > 1:
        half = (size + 1) // 2
        value = (value >> (half * 8)) ^ (value & ((1 << (half * 8)) - 1))
        size = half
    return 0xEF ^ (value & 0xFF)


def program(flash: Flash, offset: int, data: bytes) -> None:
    """NOR programming: bits can only go from 1 to 0."""
    old = flash.read(offset, len(data))
    if old == b"\xff" * len(data):
        flash.write(offset, data)
        return
    value = int.from_bytes(old, "little") & int.from_bytes(data, "little")
    flash.write(offset, value.to_bytes(len(data), "little"))


@dataclass
class WriteSession:
    """One FLASH_BEGIN / FLASH_DEFL_BEGIN ... END sequence."""

    flash: Flash
    offset: int
    size: int  # bytes that will be written (uncompressed)
    block_size: int
    stub: bool
    deflate: bool
    next_seq: int = 0
    written: int = 0
    erased_to: int = 0
    inflater: zlib._Decompress | None = field(default=None, repr=False)

    @classmethod
    def begin(cls, flash: Flash, params: bytes, stub: bool, deflate: bool) -> WriteSession:
        if len(params) < 16:
            raise CommandError(STUB_BAD_DATA_LEN if stub else ROM_INVALID_MESSAGE)
        size, _blocks, block_size, offset = struct.unpack_from("<IIII", params)
        session = cls(flash, offset, size, block_size, stub, deflate, erased_to=offset - offset % SECTOR_SIZE)
        if deflate:
            session.inflater = zlib.decompressobj()
        try:
            if size and not stub:
                flash.erase(offset, size)  # the ROM erases the whole region up front
                session.erased_to = offset + size
        except FlashRangeError:
            raise CommandError(ROM_FAILED_TO_ACT) from None
        return session

    def data(self, payload: bytes, chk: int) -> None:
        bad_len = STUB_BAD_DATA_LEN if self.stub else ROM_INVALID_MESSAGE
        if len(payload) < 16:
            raise CommandError(bad_len)
        length, seq = struct.unpack_from("<II", payload)
        block = payload[16:]
        if length != len(block):
            raise CommandError(bad_len)
        if checksum(block) != chk:
            raise CommandError(STUB_BAD_CHECKSUM if self.stub else ROM_BAD_CHECKSUM)
        if seq == self.next_seq - 1:
            return  # a retried block whose answer was lost: already written
        if seq != self.next_seq:
            raise CommandError(STUB_BAD_DATA_LEN if self.stub else ROM_FAILED_TO_ACT)
        if self.deflate:
            assert self.inflater is not None
            try:
                plain = self.inflater.decompress(block)
            except zlib.error:
                raise CommandError(STUB_INFLATE_ERROR if self.stub else ROM_DEFLATE_ERROR) from None
            if self.written + len(plain) > self.size:
                raise CommandError(STUB_TOO_MUCH_DATA if self.stub else ROM_DEFLATE_ERROR)
            self._store(self.offset + self.written, plain)
        else:
            self._store(self.offset + seq * self.block_size, block)
        self.next_seq += 1

    def _store(self, at: int, plain: bytes) -> None:
        if not plain:
            return
        end = at + len(plain)
        if self.stub and not self.deflate and end > self.offset + self.size:
            end = max(at, self.offset + self.size)  # the stub ignores esptool's 0xFF padding past the image
            plain = plain[: end - at]
        try:
            if self.stub and end > self.erased_to:
                self.flash.erase(self.erased_to, end - self.erased_to)
                self.erased_to = -(-end // SECTOR_SIZE) * SECTOR_SIZE
            program(self.flash, at, plain)
        except FlashRangeError:
            raise CommandError(STUB_SPI_FAILED if self.stub else ROM_FLASH_WRITE_ERROR) from None
        self.written += len(plain)


def md5_command(flash: Flash, payload: bytes, stub: bool) -> bytes:
    if len(payload) < 8:
        raise CommandError(STUB_BAD_DATA_LEN if stub else ROM_INVALID_MESSAGE)
    addr, size = struct.unpack_from("<II", payload)
    try:
        digest = flash.md5(addr, size)
    except FlashRangeError:
        raise CommandError(STUB_SPI_FAILED if stub else ROM_FLASH_READ_ERROR) from None
    return digest if stub else digest.hex().encode()


def erase_region(flash: Flash, payload: bytes) -> None:
    if len(payload) < 8:
        raise CommandError(STUB_BAD_DATA_LEN)
    offset, size = struct.unpack_from("<II", payload)
    if offset % SECTOR_SIZE or size % SECTOR_SIZE:
        raise CommandError(STUB_BAD_DATA_LEN)
    try:
        flash.erase(offset, size)
    except FlashRangeError:
        raise CommandError(STUB_SPI_FAILED) from None


def read_slow(flash: Flash, payload: bytes) -> bytes:
    """ROM READ_FLASH_SLOW: at most 64 bytes per command, answered as a 64-byte block."""
    if len(payload) < 8:
        raise CommandError(ROM_INVALID_MESSAGE)
    offset, length = struct.unpack_from("<II", payload)
    if length > 64:
        raise CommandError(ROM_INVALID_MESSAGE)
    try:
        return flash.read(offset, length).ljust(64, b"\xff")
    except FlashRangeError:
        raise CommandError(ROM_FLASH_READ_ERROR) from None
