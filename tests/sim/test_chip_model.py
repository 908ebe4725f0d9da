"""The ROM facts the simulator uses agree with esptool's target classes, and esptool's own accessors
decode the simulated registers into the board's identity."""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import pytest
from esptool.targets import CHIP_DEFS

from app.domain.chips import ChipType
from app.sim.chip_model import MAGIC_REG, MODELS, SecurityInfo
from app.sim.efuses import EfuseState

MAC = bytes.fromhex("025112345678")


def _esptool_reading(chip: ChipType, efuses: EfuseState) -> Any:
    regs = MODELS[chip].registers(efuses, MAC)
    loader = object.__new__(CHIP_DEFS[chip.value])  # no port: registers come from the model
    loader.read_reg = lambda addr, timeout=None: regs.get(addr, 0)
    loader.secure_download_mode = False
    return loader


@pytest.mark.parametrize("chip", list(ChipType))
def test_constants_match_esptool(chip: ChipType) -> None:
    model, rom = MODELS[chip], CHIP_DEFS[chip.value]
    assert chip.profile.image_chip_id == rom.IMAGE_CHIP_ID
    assert model.spi_base == rom.SPI_REG_BASE
    assert model.spi_usr2_offs == rom.SPI_USR2_OFFS
    assert model.spi_w0_offs == rom.SPI_W0_OFFS
    assert model.spi_addr_msb == rom.SPI_ADDR_REG_MSB
    assert model.uart_clkdiv_reg == rom.UART_CLKDIV_REG
    assert (model.security_info is not SecurityInfo.FULL) == rom.USES_MAGIC_VALUE
    if rom.USES_MAGIC_VALUE:
        assert model.registers(EfuseState(), MAC)[MAGIC_REG] == rom.MAGIC_VALUE


@pytest.mark.parametrize("chip", list(ChipType))
def test_esptool_decodes_identity_from_simulated_registers(chip: ChipType) -> None:
    esp = _esptool_reading(chip, EfuseState())
    rev = MODELS[chip].revision
    assert bytes(esp.read_mac()) == MAC
    assert esp.get_chip_revision() == rev.full
    assert f"(revision v{rev.major}.{rev.minor})" in esp.get_chip_description()
    assert not esp.get_secure_boot_enabled()
    assert not esp.get_flash_encryption_enabled()
    locked = _esptool_reading(chip, EfuseState().with_secure_boot(chip, hashlib.sha256(b"k").digest()))
    assert locked.get_secure_boot_enabled()


def test_security_info_layouts() -> None:
    assert MODELS[ChipType.ESP32].security_info is SecurityInfo.NONE
    assert MODELS[ChipType.ESP32S2].security_info is SecurityInfo.SHORT
    assert struct.calcsize("<IBBBBBBBBII") == 20


def test_banners_carry_what_esptool_looks_for() -> None:
    for model in MODELS.values():
        assert "waiting for download" in model.banner(download=True)
        assert "boot:0x" in model.banner(download=False)
        assert "waiting for download" not in model.banner(download=False)
