"""Image files, ESP images and partition tables: a correct result or a StationError, never a crash.

Valid inputs are built by independent writers (intelhex, esptool's image classes, the test builders'
partition tables), so round trips check our readers against someone else's idea of the format.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from esptool.bin_image import (
    ELFSection,
    ESP32C3FirmwareImage,
    ESP32FirmwareImage,
    ESP32S2FirmwareImage,
    ESP32S3FirmwareImage,
    LoadFirmwareImage,
)
from hypothesis import given
from hypothesis import strategies as st
from intelhex import IntelHex

from app.domain.chips import MAX_IMAGE_SIZE, ChipType
from app.domain.errors import StationError, ValidationError
from app.domain.kinds import ImageKind
from app.flashing.esp_image import check_image
from app.flashing.image_file import LoadedImage, load_image_file
from app.flashing.partition_table import parse_partition_table
from tests.flashing.builders import build_partition_table

from .cases import fuzz_case, result_or_station_error
from .strategies import mutated

_IMAGE_CLASSES: dict[ChipType, type[ESP32FirmwareImage]] = {
    ChipType.ESP32: ESP32FirmwareImage,
    ChipType.ESP32C3: ESP32C3FirmwareImage,
    ChipType.ESP32S2: ESP32S2FirmwareImage,
    ChipType.ESP32S3: ESP32S3FirmwareImage,
}
_RAM: dict[ChipType, tuple[int, int]] = {  # (IRAM, DRAM) addresses ESP-IDF links bootloaders to
    ChipType.ESP32: (0x40080400, 0x3FFF0030),
    ChipType.ESP32C3: (0x403CE000, 0x3FCD5820),
    ChipType.ESP32S2: (0x4004B000, 0x3FFE6100),
    ChipType.ESP32S3: (0x403C9700, 0x3FCE3810),
}
chips = st.sampled_from(list(ChipType))
kinds = st.sampled_from(list(ImageKind))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-images")


def _load(path: Path, raw: bytes) -> LoadedImage | StationError:
    path.write_bytes(raw)
    return result_or_station_error(lambda: load_image_file(path))


@given(st.binary(max_size=3000), st.sampled_from(["ief.hex", "ief.bin", "ief.ihx"]))
def test_image_file_any_bytes(folder: Path, raw: bytes, name: str) -> None:
    with fuzz_case("image file: bytes"):
        result = _load(folder / name, raw)
        if name.endswith(".bin"):
            assert isinstance(result, LoadedImage) and result.data == raw


@st.composite
def hex_chunks(draw: st.DrawFn) -> dict[int, bytes]:
    base = draw(st.integers(0, 0xFFFFFFFF - 0x2000))
    return draw(
        st.dictionaries(
            st.integers(base, base + 0x1000), st.binary(min_size=1, max_size=48), min_size=1, max_size=6
        )
    )


def _hex_text(chunks: dict[int, bytes], folder: Path) -> tuple[bytes, dict[int, int]]:
    hexfile = IntelHex()
    expected: dict[int, int] = {}
    for address, data in chunks.items():
        hexfile.puts(address, data)
        expected.update({address + i: byte for i, byte in enumerate(data)})
    path = folder / "written.hex"
    hexfile.write_hex_file(str(path))
    return path.read_bytes(), expected


@given(hex_chunks(), st.data())
def test_intel_hex_round_trip_and_mutations(
    folder: Path, chunks: dict[int, bytes], data: st.DataObject
) -> None:
    with fuzz_case("Intel HEX: valid/mutated"):
        text, expected = _hex_text(chunks, folder)
        loaded = _load(folder / "ief.hex", text)
        assert isinstance(loaded, LoadedImage), loaded
        start = min(expected)
        assert loaded.start_address == start
        assert loaded.data == bytes(expected.get(start + i, 0xFF) for i in range(max(expected) - start + 1))
        _load(folder / "ief.hex", data.draw(mutated(text)))


@given(st.integers(0, 0xFFFFFFFF), st.integers(MAX_IMAGE_SIZE, 0xFFFFFFFF))
def test_intel_hex_span_past_any_flash_is_refused_at_once(folder: Path, first: int, span: int) -> None:
    with fuzz_case("Intel HEX: huge span"):
        last = first + span
        if last > 0xFFFFFFFF:
            first, last = 0xFFFFFFFF - span, 0xFFFFFFFF
        text, _ = _hex_text({first: b"\xe9", last: b"\x00"}, folder)
        result = _load(folder / "ief.hex", text)
        assert isinstance(result, ValidationError) and f"0x{first:08X} to 0x{last:08X}" in str(result)


@st.composite
def esp_images(draw: st.DrawFn) -> tuple[bytes, ChipType, ImageKind]:
    """A valid image written by esptool: a bootloader (RAM only) or an IEF (one segment mapped from flash)."""
    chip = draw(chips)
    kind = draw(st.sampled_from([ImageKind.BOOTLOADER, ImageKind.IEF]))
    iram, dram = _RAM[chip]
    chosen = [draw(st.sampled_from([iram, dram])) for _ in range(draw(st.integers(1, 4)))]
    if kind is ImageKind.IEF:  # one flash-mapped segment (two in one 64 KiB page cannot be mapped)
        chosen[0] = chip.profile.flash_mapped[1].start + 0x20
    image = _IMAGE_CLASSES[chip]()
    image.entrypoint = iram
    image.append_digest = draw(st.booleans())
    image.segments = [
        ELFSection(b".s%d" % n, address + 0x100 * n, draw(st.binary(min_size=1, max_size=200)), flags=0)
        for n, address in enumerate(chosen)
    ]
    return bytes(image.save(None)), chip, kind


@given(st.binary(max_size=3000), chips, kinds)
def test_esp_image_any_bytes(data: bytes, chip: ChipType, kind: ImageKind) -> None:
    with fuzz_case("ESP image: bytes"):
        result_or_station_error(lambda: check_image(data, chip, kind))
        result_or_station_error(lambda: check_image(b"\xe9" + data, chip, kind))


@given(esp_images(), st.data())
def test_esp_image_round_trip_and_mutations(
    image: tuple[bytes, ChipType, ImageKind], data: st.DataObject
) -> None:
    raw, chip, kind = image
    with fuzz_case("ESP image: valid/mutated"):
        summary = check_image(raw, chip, kind)
        parsed = LoadFirmwareImage(chip.value, raw)
        assert (summary.chip, summary.kind, summary.segments) == (chip, kind, len(parsed.segments))
        assert summary.entry == parsed.entrypoint and summary.image_length == len(raw)
        result_or_station_error(lambda: check_image(data.draw(mutated(raw)), chip, kind))
        other_kind = ImageKind.IEF if kind is ImageKind.BOOTLOADER else ImageKind.BOOTLOADER
        assert isinstance(
            result_or_station_error(lambda: check_image(raw, chip, other_kind)), ValidationError
        )


@given(esp_images(), st.binary(max_size=5000), st.booleans())
def test_esp_image_with_any_trailer(
    image: tuple[bytes, ChipType, ImageKind], tail: bytes, sector: bool
) -> None:
    raw, chip, kind = image
    with fuzz_case("ESP image: trailers"):
        if sector:  # a would-be Secure Boot V2 signature sector at the next 4 KiB boundary
            raw += b"\xff" * (-len(raw) % 4096) + b"\xe7" + tail
        else:
            raw += tail
        result_or_station_error(lambda: check_image(raw, chip, kind))


partition_rows = st.lists(
    st.tuples(
        st.text("abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=15),
        st.sampled_from([0x00, 0x01, 0x40]),
        st.integers(0, 0xFE),
        st.integers(0, 16),  # gap before it, in 4 KiB sectors
        st.integers(1, 256),  # size in 4 KiB sectors
    ),
    min_size=1,
    max_size=20,
)


def _layout(rows: list[tuple[str, int, int, int, int]]) -> list[tuple[str, int, int, int, int]]:
    offset = 0x9000
    entries = []
    for label, ptype, subtype, gap, size in rows:
        offset += gap * 0x1000
        entries.append((label, ptype, subtype, offset, size * 0x1000))
        offset += size * 0x1000
    return entries


@given(st.binary(max_size=0xD00))
def test_partition_table_any_bytes(data: bytes) -> None:
    with fuzz_case("partition table: bytes"):
        result_or_station_error(lambda: parse_partition_table(data))
        result_or_station_error(lambda: check_image(data, ChipType.ESP32, ImageKind.PARTITION_TABLE))


@given(partition_rows, st.booleans(), st.data())
def test_partition_table_round_trip_and_mutations(
    rows: list[tuple[str, int, int, int, int]], md5: bool, data: st.DataObject
) -> None:
    with fuzz_case("partition table: valid/mutated"):
        entries = _layout(rows)
        raw = build_partition_table(entries, md5=md5)
        table = parse_partition_table(raw)
        read = [(e.label, e.type, e.subtype, e.offset, e.size) for e in table.entries]
        assert read == entries and table.has_md5 == md5
        result_or_station_error(lambda: parse_partition_table(data.draw(mutated(raw))))
