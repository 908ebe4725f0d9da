"""Re-flashing only what changed: ask the chip for MD5s of its flash before writing, write only the
4 KiB sectors that differ.

Why: a lab board goes round the re-provision loop with the same bootloader and IEF many times, and a
production board may be flashed twice after a failed enrolment. The chip hashes its own flash (the stub's
or ROM's SPI_FLASH_MD5) far faster than the bytes can be sent over the UART, so comparing first turns an
unchanged image into a handful of round trips.

Regions are compared coarse to fine: the whole image, then up to 16 parts of it, then parts of the parts
that differ, down to single sectors; a region most of whose parts differ is taken as changed whole, so a
board holding a different image costs ~17 MD5s before one full write, not one per sector. The image's
last sector is compared padded with 0xFF, as a full write leaves it (the flasher erases whole sectors),
so writing only the differing sectors leaves exactly the flash a full write would. Erased flash (a new
board on the line) is known from the first MD5: one question, not seventeen.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

SECTOR_SIZE = 0x1000
FANOUT = 16
MOSTLY_CHANGED = 0.75  # share of differing parts above which a region is rewritten whole

Md5Of = Callable[[int, int], str]
"""MD5 (hex) of `size` flash bytes at `address`, as the chip computes it."""


@dataclass(frozen=True)
class WritePlan:
    """What to write of one image: byte ranges of the image, in order, each starting on a sector."""

    offset: int
    size: int
    runs: tuple[tuple[int, int], ...]  # (start, end) within the image
    compared: bool  # False: the flash could not be compared, so everything is written
    md5_queries: int = 0

    @property
    def sectors(self) -> int:
        return -(-self.size // SECTOR_SIZE)

    @property
    def changed_sectors(self) -> int:
        return sum(-(-(end - start) // SECTOR_SIZE) for start, end in self.runs)

    @property
    def bytes_to_write(self) -> int:
        return sum(end - start for start, end in self.runs)

    @property
    def unchanged(self) -> bool:
        return self.compared and not self.runs


def full_write(offset: int, size: int) -> WritePlan:
    return WritePlan(offset, size, ((0, size),) if size else (), compared=False)


def can_compare(offset: int, size: int) -> bool:
    """Only whole sectors can be rewritten alone; an image starting inside a sector is written whole."""
    return offset % SECTOR_SIZE == 0 and size > 0


def plan_write(offset: int, data: bytes, md5_of: Md5Of) -> WritePlan:
    """Compare `data` (to be written at `offset`) with the flash; errors from `md5_of` propagate."""
    if not can_compare(offset, len(data)):
        return full_write(offset, len(data))
    padded = data + b"\xff" * (-len(data) % SECTOR_SIZE)
    walk = _Walk(offset, padded, md5_of)
    changed = walk.changed(0, len(padded) // SECTOR_SIZE)
    return WritePlan(offset, len(data), _runs(changed, len(data)), compared=True, md5_queries=walk.queries)


class _Walk:
    def __init__(self, offset: int, padded: bytes, md5_of: Md5Of) -> None:
        self._offset = offset
        self._padded = padded
        self._md5_of = md5_of
        self.queries = 0

    def _flash_md5(self, lo: int, hi: int) -> str:
        self.queries += 1
        return self._md5_of(self._offset + lo * SECTOR_SIZE, (hi - lo) * SECTOR_SIZE).lower()

    def _image_md5(self, lo: int, hi: int) -> str:
        part = self._padded[lo * SECTOR_SIZE : hi * SECTOR_SIZE]
        return hashlib.md5(part, usedforsecurity=False).hexdigest()

    def _differs(self, lo: int, hi: int) -> bool:
        return self._flash_md5(lo, hi) != self._image_md5(lo, hi)

    def changed(self, lo: int, hi: int) -> list[int]:
        """Sector numbers in [lo, hi) whose flash differs from the image."""
        actual = self._flash_md5(lo, hi)
        if actual == self._image_md5(lo, hi):
            return []
        blank = b"\xff" * SECTOR_SIZE
        if actual == hashlib.md5(blank * (hi - lo), usedforsecurity=False).hexdigest():
            # Erased flash (a new board): what differs is every sector of the image that is not blank
            # itself, known without asking the chip about each part.
            sectors = range(lo, hi)
            return [s for s in sectors if self._padded[s * SECTOR_SIZE : (s + 1) * SECTOR_SIZE] != blank]
        return self._changed_within(lo, hi)

    def _changed_within(self, lo: int, hi: int) -> list[int]:
        """[lo, hi) is known to differ somewhere."""
        if hi - lo == 1:
            return [lo]
        step = -(-(hi - lo) // FANOUT)
        parts = [(start, min(start + step, hi)) for start in range(lo, hi, step)]
        differing = [part for part in parts if self._differs(*part)]
        if len(differing) > MOSTLY_CHANGED * len(parts):
            return [sector for a, b in differing for sector in range(a, b)]
        return [sector for a, b in differing for sector in self._changed_within(a, b)]


def _runs(sectors: list[int], size: int) -> tuple[tuple[int, int], ...]:
    runs: list[tuple[int, int]] = []
    for sector in sorted(sectors):
        start, end = sector * SECTOR_SIZE, min((sector + 1) * SECTOR_SIZE, size)
        if runs and runs[-1][1] == start:
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    return tuple(runs)
