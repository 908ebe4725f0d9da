"""read_security_state against eFuses burned by espefuse in virtual mode (espefuse owns the layout).

esptool's real ROM classes decode the registers; only their `read_reg` is pointed at espefuse's eFuse
emulator instead of a serial port, so the key-block addresses and digest byte order we use are
checked against Espressif's own tools, not against our assumptions.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import espefuse.efuse_interface as efuse_interface
import pytest
from esptool.targets import CHIP_DEFS

from app.domain.chips import ChipType
from app.flashing.chip_security import (
    ESP32_BLOCK2_READ_ADDRESS,
    KEY_BLOCK0_READ_ADDRESS,
    key_block_address,
    read_security_state,
)

from .builders import key_digest_hex


def _loader_over(emulator: Any, chip: ChipType) -> Any:
    rom_class = CHIP_DEFS[chip.value]

    class EfuseBackedLoader(rom_class):  # type: ignore[misc,valid-type]
        def __init__(self) -> None:
            self.secure_download_mode = False

        def read_reg(self, addr: int, timeout: float | None = None) -> int:
            return int(emulator.read_reg(addr))

        def get_chip_revision(self) -> int:
            return 300

    return EfuseBackedLoader()


@pytest.fixture
def efuses(tmp_path: Path) -> Iterator[Any]:
    def open_chip(chip: ChipType) -> Any:
        return efuse_interface.init_commands(
            chip=chip.value,
            virt=True,
            virt_efuse_file=str(tmp_path / f"{chip.value}.efuse"),
            do_not_confirm=True,
        )

    yield open_chip


@pytest.mark.parametrize("chip", [ChipType.ESP32C3, ChipType.ESP32S2, ChipType.ESP32S3])
def test_key_block_addresses_match_espefuse(chip: ChipType) -> None:
    blocks = importlib.import_module(f"espefuse.efuse.{chip.value}.mem_definition").EfuseDefineBlocks.BLOCKS
    key_blocks = [b for b in blocks if b[0].startswith("BLOCK_KEY")]
    assert [b[3] for b in key_blocks] == [key_block_address(chip, i) for i in range(6)]
    assert KEY_BLOCK0_READ_ADDRESS[chip] == key_blocks[0][3]


def test_esp32_block2_address_matches_espefuse() -> None:
    blocks = importlib.import_module("espefuse.efuse.esp32.mem_definition").EfuseDefineBlocks.BLOCKS
    assert next(b[3] for b in blocks if b[0] == "BLOCK2") == ESP32_BLOCK2_READ_ADDRESS


def test_fresh_chip_is_open(efuses: Any) -> None:
    with efuses(ChipType.ESP32C3) as commands:
        state = read_security_state(_loader_over(commands.esp, ChipType.ESP32C3), ChipType.ESP32C3)
    assert state.secure_boot_enabled is False
    assert state.flash_encryption_enabled is False
    assert state.key_digests == ()
    assert state.key_purposes == ("USER/EMPTY",) * 6
    assert state.release_state is False


@pytest.mark.parametrize("chip", [ChipType.ESP32C3, ChipType.ESP32S3])
def test_released_chip_reports_its_key_digest(efuses: Any, signing_key: Path, chip: ChipType) -> None:
    with efuses(chip) as commands:
        with signing_key.open("rb") as key_fh:
            commands.burn_key_digest(["BLOCK_KEY2"], [key_fh], ["SECURE_BOOT_DIGEST1"])
        commands.burn_efuse({"SECURE_BOOT_EN": 1})
        state = read_security_state(_loader_over(commands.esp, chip), chip)
    assert state.secure_boot_enabled is True
    assert state.release_state is True
    assert state.key_digests == (key_digest_hex(signing_key),)
    assert state.key_purposes[2] == "SECURE_BOOT_DIGEST1"


def test_flash_encryption_counter_odd_means_enabled(efuses: Any) -> None:
    with efuses(ChipType.ESP32C3) as commands:
        commands.burn_efuse({"SPI_BOOT_CRYPT_CNT": 1})
        state = read_security_state(_loader_over(commands.esp, ChipType.ESP32C3), ChipType.ESP32C3)
    assert state.flash_encryption_enabled is True


def test_digest_purpose_with_blank_block_is_reported_unreadable(efuses: Any) -> None:
    with efuses(ChipType.ESP32C3) as commands:
        commands.burn_efuse({"KEY_PURPOSE_0": 9})  # SECURE_BOOT_DIGEST0, but no digest in BLOCK_KEY0
        state = read_security_state(_loader_over(commands.esp, ChipType.ESP32C3), ChipType.ESP32C3)
    assert state.key_purposes[0] == "SECURE_BOOT_DIGEST0"
    assert state.key_digests == ()
    assert state.digests_known is False
    assert state.has_digest_purpose is True
