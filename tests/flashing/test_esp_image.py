"""check_image against real images built by esptool and signed by espsecure, and damaged copies of them."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest
from esptool.bin_image import ESP32S3FirmwareImage, LoadFirmwareImage

from app.domain.chips import ChipType
from app.domain.errors import ValidationError
from app.domain.kinds import ImageKind
from app.flashing.esp_image import check_image, xor_of_bytes

from .builders import (
    STANDARD_TABLE,
    build_app,
    build_bootloader,
    build_partition_table,
    key_digest_hex,
    sign_with,
)

C3 = ChipType.ESP32C3


def test_valid_image_summary_matches_what_esptool_reads() -> None:
    data = build_app()
    summary = check_image(data, C3, ImageKind.IEF)
    parsed = LoadFirmwareImage("esp32c3", data)
    assert summary.chip is C3
    assert summary.kind is ImageKind.IEF
    assert summary.size == len(data)
    assert summary.sha256 == hashlib.sha256(data).hexdigest()
    assert summary.entry == parsed.entrypoint
    assert summary.segments == len(parsed.segments)
    assert summary.hash_appended is True
    assert summary.signed is False
    assert summary.image_length == len(data)


def test_image_without_appended_digest_is_accepted() -> None:
    summary = check_image(build_bootloader(append_digest=False), C3, ImageKind.BOOTLOADER)
    assert summary.hash_appended is False


def test_image_for_another_chip_names_both_chips() -> None:
    data = build_app(image_cls=ESP32S3FirmwareImage)
    with pytest.raises(ValidationError) as err:
        check_image(data, C3, ImageKind.IEF)
    assert str(err.value) == "image is for ESP32-S3 (chip id 9), the task needs ESP32-C3 (chip id 5)"


def test_unknown_chip_id_is_reported() -> None:
    data = bytearray(build_app(append_digest=False))
    data[12:14] = struct.pack("<H", 0x77)
    with pytest.raises(ValidationError, match=r"image is for an unknown chip \(chip id 119\)"):
        check_image(bytes(data), C3, ImageKind.IEF)


def test_wrong_magic() -> None:
    data = b"\x7fELF" + build_app()[4:]
    with pytest.raises(ValidationError) as err:
        check_image(data, C3, ImageKind.IEF)
    assert str(err.value) == "not an ESP image: first byte 0x7F (expected 0xE9)"


def test_empty_data_refused() -> None:
    with pytest.raises(ValidationError, match="the ief image is empty"):
        check_image(b"", C3, ImageKind.IEF)


def test_image_larger_than_partition_refused() -> None:
    data = build_app()
    with pytest.raises(ValidationError) as err:
        check_image(data, C3, ImageKind.IEF, max_size=len(data) - 1)
    assert f"is {len(data)} bytes" in str(err.value)
    assert f"holds only {len(data) - 1} bytes" in str(err.value)


def test_image_exactly_partition_size_accepted() -> None:
    data = build_app()
    assert check_image(data, C3, ImageKind.IEF, max_size=len(data)).size == len(data)


def test_insane_segment_count() -> None:
    data = bytearray(build_app())
    data[1] = 40
    with pytest.raises(ValidationError, match="claims 40 segments; a valid image has 1 to 16"):
        check_image(bytes(data), C3, ImageKind.IEF)


def test_segment_running_past_the_end() -> None:
    data = bytearray(build_app())
    struct.pack_into("<I", data, 28, 0x200000)  # first segment's length
    with pytest.raises(ValidationError, match=r"segment 1 of 2 .* claims 2097152 bytes"):
        check_image(bytes(data), C3, ImageKind.IEF)


def test_truncated_image() -> None:
    data = build_app()[:100]
    with pytest.raises(ValidationError, match="truncated"):
        check_image(data, C3, ImageKind.IEF)


def test_checksum_mismatch_reports_both_values() -> None:
    data = bytearray(build_app(append_digest=False))
    stored = data[-1]
    data[48] ^= 0x01  # an IRAM payload byte: the XOR checksum moves by exactly 1
    with pytest.raises(ValidationError) as err:
        check_image(bytes(data), C3, ImageKind.IEF)
    assert str(err.value).startswith(
        f"checksum mismatch: header says 0x{stored:02X}, computed 0x{stored ^ 0x01:02X}"
    )


def test_appended_sha256_mismatch() -> None:
    data = bytearray(build_app())
    data[-1] ^= 0xFF  # last byte of the appended digest
    with pytest.raises(ValidationError, match="SHA-256 mismatch: the image carries"):
        check_image(bytes(data), C3, ImageKind.IEF)


def test_bad_hash_flag() -> None:
    data = bytearray(build_app())
    data[23] = 7
    with pytest.raises(ValidationError, match="hash-appended flag 0x07"):
        check_image(bytes(data), C3, ImageKind.IEF)


def test_trailing_ff_padding_accepted() -> None:
    data = build_app() + b"\xff" * 5000
    assert check_image(data, C3, ImageKind.IEF).signed is False


def test_trailing_garbage_refused() -> None:
    image = build_app()
    with pytest.raises(
        ValidationError, match=f"unexpected data after the end of the image at offset {len(image):#x}"
    ):
        check_image(image + b"\x00garbage", C3, ImageKind.IEF)


def test_signed_image_accepted_with_key_digest(signing_key: Path, tmp_path: Path) -> None:
    unsigned = build_bootloader()
    signed = sign_with(signing_key, unsigned, tmp_path)
    summary = check_image(signed, C3, ImageKind.BOOTLOADER)
    assert summary.signed is True
    assert len(signed) % 4096 == 0
    assert summary.key_digests == (key_digest_hex(signing_key),)
    assert summary.signatures[0].scheme == "rsa-3072"
    assert summary.image_length == len(unsigned)


def test_signature_over_other_content_refused(signing_key: Path, tmp_path: Path) -> None:
    signed = bytearray(sign_with(signing_key, build_bootloader(), tmp_path))
    sector = len(signed) - 4096
    signed[sector - 1] = 0x00  # padding before the sector: covered by the signature, not by the image
    with pytest.raises(ValidationError, match=r"signature block 1 .* signs a different image"):
        check_image(bytes(signed), C3, ImageKind.BOOTLOADER)


def test_corrupt_signature_block_refused(signing_key: Path, tmp_path: Path) -> None:
    signed = bytearray(sign_with(signing_key, build_bootloader(), tmp_path))
    sector = len(signed) - 4096
    signed[sector + 900] ^= 0xFF  # inside the RSA signature
    with pytest.raises(
        ValidationError, match=r"signature block 1 \(offset 0x[0-9a-f]+\) is corrupt: its CRC32"
    ):
        check_image(bytes(signed), C3, ImageKind.BOOTLOADER)


def test_xor_of_bytes_matches_a_plain_loop() -> None:
    for length in (0, 1, 2, 3, 7, 8, 9, 4095, 4097):
        data = hashlib.sha256(str(length).encode()).digest() * (length // 32 + 1)
        data = data[:length]
        expected = 0
        for byte in data:
            expected ^= byte
        assert xor_of_bytes(data) == expected


def test_partition_table_with_factory_app() -> None:
    table = build_partition_table(STANDARD_TABLE)
    summary = check_image(table, C3, ImageKind.PARTITION_TABLE)
    assert summary.chip is None
    assert [p.label for p in summary.partitions] == ["nvs", "phy_init", "factory"]
    assert summary.sha256 == hashlib.sha256(table).hexdigest()


def test_partition_table_without_app_at_factory_offset() -> None:
    rows = [*STANDARD_TABLE[:2], ("ota_0", 0, 0x10, 0x20000, 0x100000)]
    with pytest.raises(ValidationError) as err:
        check_image(build_partition_table(rows), C3, ImageKind.PARTITION_TABLE)
    assert "no app partition at 0x10000" in str(err.value)
    assert "'ota_0' at 0x20000" in str(err.value)


def test_esp_image_given_as_partition_table() -> None:
    with pytest.raises(ValidationError, match="not a partition table: the first entry starts with 0xE9"):
        check_image(build_app(), C3, ImageKind.PARTITION_TABLE)
