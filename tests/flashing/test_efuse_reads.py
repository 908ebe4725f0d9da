"""eFuse words are read from the chip once per connection (the independent esp32-mock-bootloader peer),
and read again after anything is written to the eFuse controller."""

from __future__ import annotations

import struct
from collections import Counter
from typing import Any

from app.domain.chips import ChipType
from app.flashing.board_connection import BoardConnection, ResetMode
from app.flashing.efuse_reads import remember_efuse_reads

from .conftest import MockPeer
from .test_board_connection import _images

READ_REG, WRITE_REG = 0x0A, 0x09
C3_EFUSE = 0x60008800  # the ESP32-C3's eFuse controller
C3_SPI1 = 0x60002000  # its SPI1 (flash) controller, which esptool drives by register writes


class _WireReads:
    """Counts the READ_REG commands a loader sends to the chip, by address (esptool's `command`, spied)."""

    def __init__(self) -> None:
        self.by_address: Counter[int] = Counter()

    def watch(self, loader: Any) -> None:
        send = loader.command

        def command(op: int | None = None, data: bytes = b"", *args: Any, **kwargs: Any) -> Any:
            if op == READ_REG:
                self.by_address[struct.unpack_from("<I", data)[0]] += 1
            return send(op, data, *args, **kwargs)

        loader.command = command

    def efuse(self) -> Counter[int]:
        return Counter({a: n for a, n in self.by_address.items() if C3_EFUSE <= a < C3_EFUSE + 0x200})


def test_a_whole_flashing_session_reads_each_efuse_word_once(mock_c3: MockPeer) -> None:
    wire = _WireReads()
    with BoardConnection.open(mock_c3.url, reset=ResetMode.NO_RESET) as board:
        wire.watch(board.loader)
        identity = board.identify()
        board.run_stub()
        wire.watch(board.loader)
        result = board.write_images(_images())
    assert identity.chip is ChipType.ESP32C3 and identity.security is not None
    assert result.verified == (True, True, True)
    words = wire.efuse()
    assert len(words) >= 5  # description, MAC, Secure Boot, Flash Encryption, ... each asked for
    assert set(words.values()) == {1}, words  # esptool asks for them ~30 times
    assert any(C3_SPI1 <= a < C3_SPI1 + 0x100 for a in wire.by_address)  # the flash ID: not kept


def test_a_write_to_the_efuse_controller_forgets_what_was_read(mock_c3: MockPeer) -> None:
    wire = _WireReads()
    with BoardConnection.open(mock_c3.url, reset=ResetMode.NO_RESET) as board:
        esp = board.loader
        wire.watch(esp)
        word = C3_EFUSE + 0x44  # the MAC's first word
        first = esp.read_reg(word)
        assert esp.read_reg(word) == first
        esp.write_reg(C3_SPI1 + 0x18, 0)  # elsewhere: nothing forgotten
        assert esp.read_reg(word) == first
        assert wire.efuse()[word] == 1
        esp.write_reg(C3_EFUSE + 0x1CC, 0)  # EFUSE_CONF_REG, as a burn or a reload begins
        assert esp.read_reg(word) == first
        assert wire.efuse()[word] == 2


def test_status_and_command_registers_are_never_kept(mock_c3: MockPeer) -> None:
    wire = _WireReads()
    with BoardConnection.open(mock_c3.url, reset=ResetMode.NO_RESET) as board:
        esp = board.loader
        wire.watch(esp)
        status = C3_EFUSE + 0x1D0  # EFUSE_STATUS_REG: changes while a burn runs
        esp.read_reg(status)
        esp.read_reg(status)
    assert wire.efuse()[status] == 2


def test_a_chip_without_a_known_controller_is_left_alone() -> None:
    class Loader:
        def read_reg(self, addr: int) -> int:
            return addr

        def write_reg(self, addr: int, value: int) -> None:
            return None

    loader = Loader()
    before = (loader.read_reg, loader.write_reg)
    remember_efuse_reads(loader, None, {})
    assert (loader.read_reg, loader.write_reg) == before
