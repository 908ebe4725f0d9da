"""A board's SPI flash: a file in the state folder, mapped into memory, erased to 0xFF.

Writes go straight to the mapped file, so a board that vanishes mid-write keeps exactly what was
written, like a real chip pulled from USB: the mapping is shared, so the kernel keeps each write in the
file even when this process dies. Nothing is synced to disk on the way (msync holds the GIL of every
board in the simulator while the disk writes; it only guards against the machine itself crashing).
NOR semantics are kept where the ROM protocol exposes them: erase works on 4 KiB sectors; a write
stores the bytes given (the stub erases before writing).
"""

from __future__ import annotations

import hashlib
import mmap
from pathlib import Path

from app.domain.errors import ValidationError

SECTOR_SIZE = 0x1000


class FlashRangeError(ValidationError):
    """An access outside the flash chip."""


class Flash:
    def __init__(self, path: Path, size: int) -> None:
        self.size = size
        self._path = path
        if not path.exists() or path.stat().st_size != size:
            existing = path.read_bytes()[:size] if path.exists() else b""
            path.write_bytes(existing + b"\xff" * (size - len(existing)))
        self._file = path.open("r+b")
        self._map = mmap.mmap(self._file.fileno(), size)
        # Wear counters, for tests and benchmarks: how much flash work a host made the board do.
        self.sectors_erased = 0
        self.bytes_written = 0

    def close(self) -> None:
        if not self._map.closed:
            self._map.flush()
            self._map.close()
            self._file.close()

    def _check(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise FlashRangeError(
                f"flash access {offset:#x}+{length:#x} is outside the {self.size // 1024} KiB flash"
            )

    def read(self, offset: int, length: int) -> bytes:
        self._check(offset, length)
        return self._map[offset : offset + length]

    def view(self) -> memoryview:
        """The whole flash, without copying (valid until close)."""
        return memoryview(self._map)

    def write(self, offset: int, data: bytes) -> None:
        self._check(offset, len(data))
        self._map[offset : offset + len(data)] = data
        self.bytes_written += len(data)

    def erase(self, offset: int, length: int) -> None:
        """Erase every sector touched by [offset, offset+length)."""
        start = offset - offset % SECTOR_SIZE
        end = -(-(offset + length) // SECTOR_SIZE) * SECTOR_SIZE
        self._check(start, end - start)
        self._map[start:end] = b"\xff" * (end - start)
        self.sectors_erased += (end - start) // SECTOR_SIZE

    def erase_all(self) -> None:
        self._map[:] = b"\xff" * self.size
        self.sectors_erased += self.size // SECTOR_SIZE

    def md5(self, offset: int, length: int) -> bytes:
        self._check(offset, length)
        return hashlib.md5(self._map[offset : offset + length]).digest()  # noqa: S324 - protocol checksum
