"""Read a firmware image file a person chose: raw .bin as is, Intel HEX through intelhex.

Intel HEX files come from build systems and hand-edits; a bad record must be reported with its line
number, not as a traceback, and the bytes we flash must be exactly those the file describes (gaps are
unwritten flash, 0xFF).

A HEX file of a few records can describe gigabytes (one byte at 0, one at 0x3FFFFFFF): its address span
is checked against MAX_IMAGE_SIZE before any padding is allocated, and the file itself is read with a
cap, so neither a hostile HEX nor /dev/zero renamed to .bin can stall an import.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from intelhex import IntelHex, IntelHexError

from app.domain.chips import MAX_IMAGE_SIZE
from app.domain.errors import NotFoundError, ValidationError
from app.domain.input_files import read_capped, size_text

BIN_SUFFIXES = (".bin",)
HEX_SUFFIXES = (".hex", ".ihex", ".ihx")
_EOF_RECORD = ":00000001FF"
MAX_HEX_FILE_SIZE = 3 * MAX_IMAGE_SIZE
"""A HEX file spends 44 characters on each 16 data bytes, so this holds a full MAX_IMAGE_SIZE image."""


@dataclass(frozen=True)
class LoadedImage:
    """Image bytes and where they start: 0 for .bin (the caller knows the offset), the HEX load address."""

    data: bytes = field(repr=False)
    start_address: int
    source_format: str  # "bin" or "hex"


def load_image_file(path: Path) -> LoadedImage:
    suffix = path.suffix.lower()
    if not path.exists():
        raise NotFoundError(f"cannot read {path}: image file not found")  # before its name is judged
    if suffix not in BIN_SUFFIXES + HEX_SUFFIXES:
        accepted = ", ".join(BIN_SUFFIXES + HEX_SUFFIXES)
        raise ValidationError(
            f"{path.name}: unknown image format {suffix or '(no suffix)'!r}; use {accepted}"
        )
    if suffix in BIN_SUFFIXES:
        return LoadedImage(read_capped(path, MAX_IMAGE_SIZE, "image file"), 0, "bin")
    return _from_intel_hex(read_capped(path, MAX_HEX_FILE_SIZE, "Intel HEX file"), path.name)


def _from_intel_hex(raw: bytes, name: str) -> LoadedImage:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ValidationError(
            f"{name}: not an Intel HEX file: line {line} holds a non-text byte 0x{raw[error.start]:02X}"
        ) from None
    hexfile = IntelHex()
    try:
        hexfile.loadhex(io.StringIO(text))
    except IntelHexError as error:
        raise ValidationError(f"{name}: bad Intel HEX: {error}") from None
    if not _has_eof_record(text):
        raise ValidationError(
            f"{name}: Intel HEX file has no end-of-file record ({_EOF_RECORD}); it is probably truncated"
        )
    if not hexfile.addresses():
        raise ValidationError(f"{name}: Intel HEX file holds no data records")
    hexfile.padding = 0xFF
    start, end = hexfile.minaddr(), hexfile.maxaddr()
    if end - start + 1 > MAX_IMAGE_SIZE:
        raise ValidationError(
            f"{name}: Intel HEX file holds data from 0x{start:08X} to 0x{end:08X}, "
            f"{end - start + 1:,} bytes with the gaps filled; no image is larger than "
            f"{size_text(MAX_IMAGE_SIZE)}, so records for another address range were probably merged in"
        )
    data = hexfile.tobinstr(start=start, end=end)
    return LoadedImage(bytes(data), start, "hex")


def _has_eof_record(text: str) -> bool:
    return any(line.strip().upper() == _EOF_RECORD for line in text.splitlines())
