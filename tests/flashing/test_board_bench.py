"""The bench's pure parts: reading the virtual eFuse record the simulator writes, and the refusal rules."""

from __future__ import annotations

import hashlib

import pytest

from app.domain.chips import ChipType
from app.domain.errors import ConflictError, ValidationError
from app.flashing.bench_policy import (
    check_confirmation,
    why_not_erase_flash,
    why_not_erase_settings,
    why_not_read_flash,
    why_not_reset_vefuses,
)
from app.flashing.board_bench import parse_size
from app.flashing.board_facts import BoardFacts, BuildKind
from app.flashing.chip_security import ChipSecurityState
from app.flashing.partition_table import PartitionEntry
from app.flashing.vefuse_partition import VirtualEfuseStatus, read_virtual_efuses
from app.sim.efuses import EfuseState, encode_virtual

DIGEST = hashlib.sha256(b"k").digest()
MAC = "02:51:aa:bb:cc:dd"
NVS = PartitionEntry("nvs", 1, 2, 0x9000, 0x6000, 0)
EFUSE_EM = PartitionEntry("efuse_em", 1, 5, 0x110000, 0x2000, 0)


def _facts(
    security: ChipSecurityState, build: BuildKind = BuildKind.DEV, mac: str | None = MAC
) -> BoardFacts:
    return BoardFacts(
        "rfc2217://x", ChipType.ESP32C3, "ESP32-C3", "ESP32-C3", mac, 40, "4MB", "id", security, build,
        "because", (NVS, EFUSE_EM),
    )  # fmt: skip


def test_reads_what_the_simulator_writes() -> None:
    state = EfuseState(flash_crypt_cnt=1).with_secure_boot(ChipType.ESP32C3, DIGEST)
    region = encode_virtual(state) + b"\xff" * 64
    virtual = read_virtual_efuses(region)
    assert virtual.status is VirtualEfuseStatus.PRESENT
    assert virtual.secure_boot_enabled and virtual.jtag_disabled and virtual.flash_encryption_enabled
    assert virtual.key_digests == (DIGEST.hex(),)
    assert read_virtual_efuses(b"\xff" * 4096).status is VirtualEfuseStatus.BLANK
    damaged = bytearray(region)
    damaged[20] ^= 0x01
    assert read_virtual_efuses(bytes(damaged)).status is VirtualEfuseStatus.UNREADABLE
    assert read_virtual_efuses(b"garbage").status is VirtualEfuseStatus.UNREADABLE


def test_refusals_follow_the_chip_state() -> None:
    blank = _facts(ChipSecurityState(False, False))
    assert why_not_reset_vefuses(blank) is None
    assert why_not_erase_settings(blank) is None and why_not_erase_flash(blank) is None
    burned = _facts(ChipSecurityState(True, False, key_digests=(DIGEST.hex(),)), BuildKind.RELEASE)
    assert "real Secure Boot eFuses are burned" in (why_not_reset_vefuses(burned) or "")
    assert "real Secure Boot is enabled" in (why_not_erase_flash(burned) or "")
    assert why_not_read_flash(burned, 0, 4096) is None
    release = _facts(ChipSecurityState(False, False), BuildKind.RELEASE)
    assert "release build" in (why_not_reset_vefuses(release) or "")
    encrypted = _facts(ChipSecurityState(False, True))
    assert "ciphertext" in (why_not_read_flash(encrypted, 0, 16) or "")
    sdm = _facts(ChipSecurityState(True, False, secure_download_mode=True), BuildKind.UNKNOWN, mac=None)
    for reason in (why_not_reset_vefuses(sdm), why_not_erase_settings(sdm), why_not_erase_flash(sdm)):
        assert "secure download mode" in (reason or "")
    assert "past the end" in (why_not_read_flash(blank, 0x3FF000, 0x2000) or "")


def test_confirmation_is_the_boards_mac() -> None:
    check_confirmation(_facts(ChipSecurityState(False, False)), "02-51-AA-BB-CC-DD")
    with pytest.raises(ValidationError, match="not the MAC"):
        check_confirmation(_facts(ChipSecurityState(False, False)), "02:51:aa:bb:cc:de")
    with pytest.raises(ConflictError, match="secure download"):
        check_confirmation(_facts(ChipSecurityState(False, False), mac=None), MAC)


@pytest.mark.parametrize(
    ("text", "value"), [("0x8000", 0x8000), ("4096", 4096), ("64K", 65536), ("4M", 4 << 20)]
)
def test_sizes_as_people_type_them(text: str, value: int) -> None:
    assert parse_size(text, "SIZE") == value


def test_bad_sizes() -> None:
    with pytest.raises(ValidationError, match="not a number"):
        parse_size("lots", "SIZE")
    with pytest.raises(ValidationError, match="negative"):
        parse_size("-1", "OFFSET")
