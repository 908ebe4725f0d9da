"""The simulator's own image reader agrees with esptool on good images and words bad ones like the ROM."""

from __future__ import annotations

import pytest
from esptool.bin_image import LoadFirmwareImage

from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, IefKind
from app.sim.esp_image import ImageError, read_image
from app.sim.images import build_sim_bootloader, build_sim_ief


@pytest.mark.parametrize("chip", list(ChipType))
def test_reads_what_esptool_reads(chip: ChipType) -> None:
    for data in (build_sim_bootloader(chip, BootloaderKind.DEV), build_sim_ief(chip, IefKind.DEBUG)):
        ours = read_image(data + b"\xff" * 100, 0, len(data) + 100)
        theirs = LoadFirmwareImage(chip.value, data)
        assert ours.chip_id == theirs.chip_id == chip.profile.image_chip_id
        assert ours.entry == theirs.entrypoint
        assert [(s.load_addr, s.data) for s in ours.segments] == [(s.addr, s.data) for s in theirs.segments]
        assert ours.length == len(data)
        assert ours.signed_length % 0x1000 == 0


def test_reads_at_an_offset() -> None:
    data = build_sim_bootloader(ChipType.ESP32, BootloaderKind.RELEASE)
    flash = b"\xff" * 0x1000 + data
    assert read_image(flash, 0x1000, 0x7000).length == len(data)


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


def test_bad_images_are_refused_with_rom_wording() -> None:
    data = build_sim_bootloader(ChipType.ESP32C3, BootloaderKind.DEV)
    with pytest.raises(ImageError) as blank:
        read_image(b"\xff" * 64, 0, 64)
    assert blank.value.rom_text == "invalid header: 0xffffffff"
    with pytest.raises(ImageError) as checksum:
        read_image(_flip(data, 0x100), 0, len(data))
    assert checksum.value.rom_text.startswith("Checksum failure. Calculated 0x")
    with pytest.raises(ImageError) as digest:
        read_image(_flip(data, len(data) - 1), 0, len(data))
    assert digest.value.rom_text == "SHA-256 comparison failed: image is corrupt"
    with pytest.raises(ImageError) as truncated:
        read_image(data[:500], 0, 500)
    assert "past end" in truncated.value.rom_text or "invalid segment length" in truncated.value.rom_text
