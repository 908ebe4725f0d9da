"""load_image_file on real .bin and Intel HEX files written by intelhex, and on broken ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from intelhex import IntelHex

from app.domain.errors import NotFoundError, ValidationError
from app.flashing.image_file import load_image_file


def _write_hex(path: Path, chunks: dict[int, bytes]) -> Path:
    hexfile = IntelHex()
    for address, data in chunks.items():
        hexfile.puts(address, data)
    hexfile.write_hex_file(str(path))
    return path


def test_bin_loaded_as_is(tmp_path: Path) -> None:
    data = bytes(range(256)) * 3
    path = tmp_path / "ief.bin"
    path.write_bytes(data)
    loaded = load_image_file(path)
    assert loaded.data == data
    assert loaded.start_address == 0
    assert loaded.source_format == "bin"


def test_hex_round_trip_reports_start_address(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5
    loaded = load_image_file(_write_hex(tmp_path / "ief.hex", {0x10000: data}))
    assert loaded.data == data
    assert loaded.start_address == 0x10000
    assert loaded.source_format == "hex"


def test_hex_gaps_filled_with_ff(tmp_path: Path) -> None:
    path = _write_hex(tmp_path / "gaps.HEX", {0x1000: b"\x01\x02", 0x1010: b"\x03"})
    loaded = load_image_file(path)
    assert loaded.start_address == 0x1000
    assert loaded.data == b"\x01\x02" + b"\xff" * 14 + b"\x03"


def _corrupt_line(path: Path, line_number: int, new_line: str) -> None:
    lines = path.read_text().splitlines()
    lines[line_number - 1] = new_line
    path.write_text("\n".join(lines) + "\n")


def test_hex_bad_checksum_names_the_line(tmp_path: Path) -> None:
    path = _write_hex(tmp_path / "bad.hex", {0: bytes(64)})
    line = path.read_text().splitlines()[2]
    bad_checksum = (int(line[-2:], 16) + 1) & 0xFF
    _corrupt_line(path, 3, f"{line[:-2]}{bad_checksum:02X}")
    with pytest.raises(ValidationError) as err:
        load_image_file(path)
    assert str(err.value) == "bad.hex: bad Intel HEX: Record at line 3 has invalid checksum"


def test_hex_garbage_line_names_the_line(tmp_path: Path) -> None:
    path = _write_hex(tmp_path / "garbage.hex", {0: bytes(64)})
    _corrupt_line(path, 2, "hello world")
    with pytest.raises(ValidationError, match="line 2"):
        load_image_file(path)


def test_hex_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "binary.hex"
    path.write_bytes(b":00000001FF\n\x89PNG\r\n")
    with pytest.raises(ValidationError, match="line 2 holds a non-text byte 0x89"):
        load_image_file(path)


def test_hex_without_end_record_is_truncated(tmp_path: Path) -> None:
    path = _write_hex(tmp_path / "cut.hex", {0: bytes(64)})
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(ValidationError, match=r"no end-of-file record .* probably truncated"):
        load_image_file(path)


def test_hex_without_data(tmp_path: Path) -> None:
    path = tmp_path / "empty.hex"
    path.write_text(":00000001FF\n")
    with pytest.raises(ValidationError, match="holds no data records"):
        load_image_file(path)


def test_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "ief.elf"
    path.write_bytes(b"\x7fELF")
    with pytest.raises(ValidationError, match=r"ief\.elf: unknown image format '\.elf'; use \.bin, \.hex"):
        load_image_file(path)


@pytest.mark.parametrize("name", ["nope.bin", "nope.hex", "nope", "nope.elf"])
def test_missing_file(tmp_path: Path, name: str) -> None:
    # A mistyped path is "not found", whatever its suffix; not "unknown image format".
    with pytest.raises(NotFoundError, match=f"cannot read .*{name}: image file not found"):
        load_image_file(tmp_path / name)
