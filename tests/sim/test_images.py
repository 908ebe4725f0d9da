"""The built-in simulation images are real ESP images: esptool reads them, espsecure signs them."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import esptool
import pytest
from esptool.bin_image import LoadFirmwareImage
from esptool.loader import ESPLoader

from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, IefKind, ImageKind
from app.sim.images import (
    SimImageMarker,
    build_sim_bootloader,
    build_sim_ief,
    build_sim_partition_table,
    describe_sim_image,
)
from tests.sim.sim_host import SecureBootV2

ESPTOOL = [sys.executable, "-m", "esptool"]
ALL_IMAGES = [(chip, "bootloader", kind.value) for chip in ChipType for kind in BootloaderKind] + [
    (chip, "ief", kind.value) for chip in ChipType for kind in IefKind
]


def _build(chip: ChipType, role: str, variant: str) -> bytes:
    if role == "bootloader":
        return build_sim_bootloader(chip, BootloaderKind(variant))
    return build_sim_ief(chip, IefKind(variant))


@pytest.mark.parametrize(("chip", "role", "variant"), ALL_IMAGES)
def test_image_loads_with_esptool_and_checks_out(chip: ChipType, role: str, variant: str) -> None:
    data = _build(chip, role, variant)
    image = LoadFirmwareImage(chip.value, data)
    assert image.chip_id == chip.profile.image_chip_id
    assert image.checksum == image.calculate_checksum()
    assert image.stored_digest == image.calc_digest == hashlib.sha256(data[:-32]).digest()
    assert data[0] == ESPLoader.ESP_IMAGE_MAGIC


@pytest.mark.parametrize(("chip", "role", "variant"), ALL_IMAGES)
def test_marker_reads_back_what_was_built(chip: ChipType, role: str, variant: str) -> None:
    marker = describe_sim_image(_build(chip, role, variant))
    assert marker == SimImageMarker(ImageKind(role), variant, chip)


@pytest.mark.parametrize("chip", list(ChipType))
def test_esptool_image_info_cli_accepts_both_images(chip: ChipType, tmp_path: Path) -> None:
    for name, data in (
        ("bl.bin", build_sim_bootloader(chip, BootloaderKind.RELEASE)),
        ("ief.bin", build_sim_ief(chip, IefKind.DEBUG)),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        result = subprocess.run([*ESPTOOL, "image-info", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"Detected image type: {chip.display_name}" in result.stdout
        assert "Checksum:" in result.stdout and "(valid)" in result.stdout
        assert "invalid" not in result.stdout


def test_ief_is_named_as_a_simulation_app(tmp_path: Path) -> None:
    path = tmp_path / "ief.bin"
    path.write_bytes(build_sim_ief(ChipType.ESP32C3, IefKind.NON_DEBUG))
    result = subprocess.run([*ESPTOOL, "image-info", str(path)], capture_output=True, text=True, check=True)
    assert "Project name: sim-ief-non-debug" in result.stdout


def test_images_are_deterministic_and_distinct() -> None:
    built = {(c, r, v): _build(c, r, v) for c, r, v in ALL_IMAGES}
    again = {(c, r, v): _build(c, r, v) for c, r, v in ALL_IMAGES}
    assert built == again
    assert len(set(built.values())) == len(built)


def test_ief_is_padded_for_secure_boot_v2() -> None:
    # After the 4 KiB signature sector the signed image ends on a 64 KiB MMU page boundary.
    assert len(build_sim_ief(ChipType.ESP32S3, IefKind.DEBUG)) % 0x10000 == 0


@pytest.mark.parametrize("chip", [ChipType.ESP32, ChipType.ESP32C3])
def test_espsecure_signs_and_verifies(chip: ChipType, sbv2: SecureBootV2) -> None:
    for data in (build_sim_bootloader(chip, BootloaderKind.DEV), build_sim_ief(chip, IefKind.DEBUG)):
        signed = sbv2.sign(data)
        assert len(signed) % 4096 == 0
        assert signed[: len(data)] == data
        sbv2.verify(signed)
        assert describe_sim_image(signed) == describe_sim_image(data)
        with pytest.raises(esptool.FatalError):
            sbv2.verify(signed, key=sbv2.other_key)


def test_describe_rejects_non_sim_and_garbage() -> None:
    assert describe_sim_image(b"") is None
    assert describe_sim_image(b"\xe9" + b"\x00" * 100) is None
    assert describe_sim_image(build_sim_partition_table(ChipType.ESP32)) is None
    # A marker outside any segment (after the image) is not trusted.
    plain = bytearray(build_sim_bootloader(ChipType.ESP32C3, BootloaderKind.DEV))
    plain[1] = 0  # no segments
    assert describe_sim_image(bytes(plain)) is None
    forged = bytearray(build_sim_ief(ChipType.ESP32C3, IefKind.DEBUG))
    start = forged.find(b"QLSIM1:")
    forged[start : start + 20] = b"QLSIM1:ief:bogus:esp"
    assert describe_sim_image(bytes(forged)) is None
