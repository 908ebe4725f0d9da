"""Image files and tables that are wrong in ways a checksum cannot see: each refused at once, by name."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from intelhex import IntelHex

from app.domain.chips import ChipType
from app.domain.errors import ValidationError
from app.domain.kinds import BootloaderKind, IefKind, ImageKind
from app.domain.records import FlashImage, TaskImages
from app.flashing.esp_image import MAX_IMAGE_SIZE, check_image
from app.flashing.image_file import load_image_file
from app.flashing.partition_table import parse_partition_table
from app.flashing.task_image_checks import check_task_images
from app.sim.images import build_sim_bootloader, build_sim_ief

from .builders import build_partition_table

C3 = ChipType.ESP32C3


def _hex_with(path: Path, chunks: dict[int, bytes]) -> Path:
    hexfile = IntelHex()
    for address, data in chunks.items():
        hexfile.puts(address, data)
    hexfile.write_hex_file(str(path))
    return path


def test_hex_just_over_the_largest_image_is_refused(tmp_path: Path) -> None:
    path = _hex_with(tmp_path / "ief.hex", {0: b"\xe9", MAX_IMAGE_SIZE: b"\x00"})
    with pytest.raises(ValidationError, match="0x00000000 to 0x01000000"):
        load_image_file(path)


def test_hex_with_a_gigabyte_gap_is_refused_at_once(tmp_path: Path) -> None:
    path = _hex_with(tmp_path / "ief.hex", {0: b"\xe9", 0x3FFFFFFF: b"\x00"})
    assert path.stat().st_size < 200
    started = time.monotonic()
    with pytest.raises(ValidationError, match="0x00000000 to 0x3FFFFFFF") as caught:
        load_image_file(path)
    assert time.monotonic() - started < 2
    assert "ief.hex" in str(caught.value) and "16 MiB" in str(caught.value)


def test_bin_larger_than_any_flash_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ief.bin"
    path.write_bytes(b"\xff" * (MAX_IMAGE_SIZE + 1))
    with pytest.raises(ValidationError, match=r"ief\.bin.*16 MiB"):
        load_image_file(path)


@pytest.mark.parametrize("chip", list(ChipType))
def test_bootloader_checked_as_ief_is_named(chip: ChipType) -> None:
    data = build_sim_bootloader(chip, BootloaderKind.DEV)
    with pytest.raises(ValidationError, match="looks like a bootloader"):
        check_image(data, chip, ImageKind.IEF)
    assert check_image(data, chip, ImageKind.BOOTLOADER).kind is ImageKind.BOOTLOADER


@pytest.mark.parametrize("chip", list(ChipType))
def test_ief_checked_as_bootloader_is_named(chip: ChipType) -> None:
    data = build_sim_ief(chip, IefKind.DEBUG)
    with pytest.raises(ValidationError, match="is an app image"):
        check_image(data, chip, ImageKind.BOOTLOADER)
    assert check_image(data, chip, ImageKind.IEF).kind is ImageKind.IEF


def test_ief_larger_than_any_app_partition_is_refused() -> None:
    data = build_sim_ief(C3, IefKind.DEBUG)
    padded = data + b"\xff" * (MAX_IMAGE_SIZE - len(data) + 1)
    with pytest.raises(ValidationError, match="would overwrite what follows"):
        check_image(padded, C3, ImageKind.IEF)


def test_partition_over_the_bootloader_is_refused() -> None:
    table = build_partition_table([("factory", 0, 0, 0x10000, 0x100000), ("early", 1, 2, 0x1000, 0x1000)])
    with pytest.raises(ValidationError, match=r"'early'.*0x1000.*bootloader and the partition table"):
        parse_partition_table(table)


def test_partition_over_the_table_itself_is_refused() -> None:
    table = build_partition_table([("nvs", 1, 2, 0x8000, 0x6000), ("factory", 0, 0, 0x10000, 0x100000)])
    with pytest.raises(ValidationError, match="'nvs'"):
        parse_partition_table(table)


def test_partition_past_the_largest_flash_is_refused() -> None:
    table = build_partition_table([("factory", 0, 0, 0x10000, 0xFFFF0000)])
    with pytest.raises(ValidationError, match="'factory' ends at 0x100000000"):
        parse_partition_table(table)


def test_partition_table_larger_than_the_bootloaders_flash_is_refused() -> None:
    table = build_partition_table([("nvs", 1, 2, 0x9000, 0x6000), ("factory", 0, 0, 0x10000, 0x400000)])
    task = TaskImages(
        task="t",
        device_type=C3,
        bootloader_kind=BootloaderKind.DEV,
        key_digest_hex="",
        images=(
            FlashImage(0x0, ImageKind.BOOTLOADER, "boot", build_sim_bootloader(C3, BootloaderKind.DEV)),
            FlashImage(0x8000, ImageKind.PARTITION_TABLE, "table", table),
            FlashImage(0x10000, ImageKind.IEF, "ief", build_sim_ief(C3, IefKind.DEBUG)),
        ),
    )
    with pytest.raises(ValidationError, match=r"'factory' ends at 0x410000.*4 MiB"):
        check_task_images(task)
