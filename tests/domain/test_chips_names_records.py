from __future__ import annotations

import base64
import re

import pytest

from app.domain.chips import ChipType
from app.domain.errors import ValidationError
from app.domain.kinds import BootloaderKind, KeyType, parse_choice
from app.domain.names import validate_name, validate_username
from app.domain.records import InstanceParams, PageRequest, certificate_base64

PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCC\nAVmgAwIB\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize("text", ["esp32c3", "ESP32-C3", "esp32_c3", " Esp32C3 "])
def test_chip_spellings(text: str) -> None:
    assert ChipType.parse(text) is ChipType.ESP32C3


def test_unknown_chip_lists_known_ones() -> None:
    with pytest.raises(ValidationError, match="known types: esp32, esp32c3, esp32s2, esp32s3"):
        ChipType.parse("esp8266")


def test_bootloader_offsets_differ_by_family() -> None:
    assert {c: c.bootloader_offset for c in ChipType} == {
        ChipType.ESP32: 0x1000,
        ChipType.ESP32S2: 0x1000,
        ChipType.ESP32C3: 0x0,
        ChipType.ESP32S3: 0x0,
    }


@pytest.mark.parametrize("chip", list(ChipType))
def test_secure_boot_v2_key_types(chip: ChipType) -> None:
    chip.check_secure_boot_key(KeyType.RSA_3072)
    with pytest.raises(ValidationError, match="rsa-3072 signatures only"):
        chip.check_secure_boot_key(KeyType.ECDSA_P256)


def test_image_chip_ids_round_trip() -> None:
    assert all(ChipType.from_image_chip_id(c.profile.image_chip_id) is c for c in ChipType)
    assert ChipType.from_image_chip_id(0xFF) is None


def test_parse_choice_lists_accepted_words() -> None:
    assert parse_choice(BootloaderKind, " Release ", "--bootloader") is BootloaderKind.RELEASE
    with pytest.raises(ValidationError, match="--bootloader must be one of dev, release; got 'prod'"):
        parse_choice(BootloaderKind, "prod", "--bootloader")


@pytest.mark.parametrize(
    ("value", "message"),
    [("  ", "cannot be empty"), ("x" * 65, "65 characters"), ("a\tb", "control character")],
)
def test_bad_names(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validate_name(value, "batch")


def test_usernames() -> None:
    assert validate_username(" op_1-a ") == "op_1-a"
    with pytest.raises(ValidationError, match=re.escape("'.' is not allowed")):
        validate_username("j.doe")


def test_page_request_bounds() -> None:
    with pytest.raises(ValidationError, match="offset must be 0 to"):
        PageRequest(offset=-1)
    with pytest.raises(ValidationError, match="limit must be 1 to 10,000; got 0"):
        PageRequest(limit=0)


def test_root_ca_goes_to_the_ief_as_base64_der_on_one_line() -> None:
    encoded = InstanceParams("ql.local", 6000, PEM).root_ca_base64
    assert encoded == "MIIBszCCAVmgAwIB"
    assert base64.b64decode(encoded) == base64.b64decode("MIIBszCC") + base64.b64decode("AVmgAwIB")


@pytest.mark.parametrize(
    ("pem", "message"),
    [
        ("not a pem", "not one PEM certificate"),
        ("-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----", "not valid base64"),
        ("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----", "not one PEM certificate"),
    ],
)
def test_bad_root_ca(pem: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        certificate_base64(pem)
