"""Read a firmware image file a person chose: raw .bin as is, Intel HEX through intelhex.

Intel HEX files come from build systems and hand-edits; a bad record must be reported with its line
number, not as a traceback, and the bytes we flash must be exactly those the file describes (gaps are
unwritten flash, 0xFF).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from intelhex import IntelHex, IntelHexError

from app.domain.errors import NotFoundError, ValidationError

BIN_SUFFIXES = (".bin",)
HEX_SUFFIXES = (".hex", ".ihex", ".ihx")
_EOF_RECORD = ":00000001FF"


@dataclass(frozen=True)
class LoadedImage:
    """Image bytes and where they start: 0 for .bin (the caller knows the offset), the HEX load address."""

    data: bytes = field(repr=False)
    start_address: int
    source_format: str  # "bin" or "hex"


def load_image_file(path: Path) -> LoadedImage:
    suffix = path.suffix.lower()
    if suffix not in BIN_SUFFIXES + HEX_SUFFIXES:
        accepted = ", ".join(BIN_SUFFIXES + HEX_SUFFIXES)
        raise ValidationError(
            f"{path.name}: unknown image format {suffix or '(no suffix)'!r}; use {accepted}"
        )
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"image file not found: {path}") from None
    except OSError as error:
        raise ValidationError(f"cannot read image file {path}: {error.strerror or error}") from None
    if suffix in BIN_SUFFIXES:
        return LoadedImage(raw, 0, "bin")
    return _from_intel_hex(raw, path.name)


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
    data = hexfile.tobinstr(start=start, end=end)
    return LoadedImage(bytes(data), start, "hex")


def _has_eof_record(text: str) -> bool:
    return any(line.strip().upper() == _EOF_RECORD for line in text.splitlines())
