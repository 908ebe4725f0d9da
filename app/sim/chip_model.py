"""What each chip's ROM looks like from the serial port: identity, boot banners and register values.

The facts (register addresses, bit positions, magic values, chip ids) are those of the chips' technical
reference manuals as esptool reads them; a test compares them with esptool's target classes so a new
esptool release that moves something is noticed. Only the registers esptool actually reads are modelled;
every other address reads as the last value written, or 0.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from app.domain.chips import ChipType
from app.sim.efuses import EfuseState

MAGIC_REG = 0x40001000


class SecurityInfo(Enum):
    """Whether the ROM answers GET_SECURITY_INFO, and in which layout."""

    NONE = "none"  # ESP32: the command is unknown
    SHORT = "short"  # ESP32-S2: 12 bytes, no chip id
    FULL = "full"  # ESP32-C3/S3: 20 bytes with chip id and API version


@dataclass(frozen=True)
class Revision:
    major: int
    minor: int

    @property
    def full(self) -> int:
        return self.major * 100 + self.minor


@dataclass(frozen=True)
class ChipModel:
    chip: ChipType
    magic_value: int
    security_info: SecurityInfo
    revision: Revision
    spi_base: int
    spi_usr2_offs: int
    spi_w0_offs: int
    spi_addr_msb: bool  # ESP32 sends the address from the register's top bits
    uart_clkdiv_reg: int
    rom_banner: str
    reset_text: str
    download_boot: str
    flash_boot: str
    encode_efuses: Callable[[EfuseState, bytes, Revision], dict[int, int]]

    def registers(self, efuses: EfuseState, mac: bytes) -> dict[int, int]:
        regs = {MAGIC_REG: self.magic_value}
        regs.update(self.encode_efuses(efuses, mac, self.revision))
        return regs

    def banner(self, download: bool, reset_text: str | None = None) -> str:
        """The ROM's first lines after reset; esptool looks for `boot:0x..` and `waiting for download`."""
        boot = self.download_boot if download else self.flash_boot
        lines = [*self.rom_banner.split("\n"), f"rst:{reset_text or self.reset_text},boot:{boot}"]
        if download:
            lines.append("waiting for download")
        return "\r\n".join(lines) + "\r\n"


def _mac_words(mac: bytes) -> tuple[int, int]:
    """(word0, word1) of the MAC block on ESP32-S2/S3/C3: word0 = bytes 2..5 big-endian, word1 = 0..1."""
    hi, lo = struct.unpack(">HI", mac)
    return lo, hi


def _esp32(efuses: EfuseState, mac: bytes, rev: Revision) -> dict[int, int]:
    base = 0x3FF5A000
    mac_hi, mac_lo = struct.unpack(">HI", mac)
    word3 = (1 << 9) | ((1 if rev.major >= 1 else 0) << 15)  # package D0WD, revision bit 0
    word5 = ((1 if rev.major >= 2 else 0) << 20) | (rev.minor << 24)
    crypt = (efuses.flash_crypt_cnt & 0x7F) << 20
    word6 = (1 << 5) if efuses.secure_boot_en else 0  # ABS_DONE_1: Secure Boot V2 enabled
    word6 |= (1 << 6) if efuses.jtag_disabled else 0  # JTAG_DISABLE
    word6 |= (0x7 << 7) if efuses.download_dcache_disabled else 0  # DISABLE_DL_ENCRYPT/DECRYPT/CACHE
    cali_val = 1280  # with CK8M = 80 below, the ROM computes a 40 MHz crystal
    block2 = _digest_words(base + 0x58, efuses.key_digests[0]) if efuses.key_digests else {}
    return block2 | {
        base + 0x00: crypt,
        base + 0x04: mac_lo,
        base + 0x08: mac_hi | (mac_crc8(mac) << 16),
        base + 0x0C: word3,
        base + 0x10: 80,
        base + 0x14: word5,
        base + 0x18: word6,
        0x3FF6607C: (1 << 31) if rev.major >= 3 else 0,  # APB_CTL_DATE, revision bit 2
        0x3FF5F06C: cali_val << 7,  # RTCCALICFG1
    }


def mac_crc8(mac: bytes) -> int:
    """The ESP32's factory MAC check byte (ROM esp_crc8: CRC-8, reflected polynomial 0x8C, init 0)."""
    crc = 0
    for byte in mac:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
    return crc


def _digest_words(address: int, digest: bytes) -> dict[int, int]:
    """A 32-byte key digest as the eFuse read registers hold it: 8 little-endian words."""
    return {address + 4 * i: int.from_bytes(digest[4 * i : 4 * i + 4], "little") for i in range(8)}


def _key_blocks(base: int, efuses: EfuseState) -> dict[int, int]:
    """BLOCK_KEY0.. of ESP32-S2/S3/C3 (read address base + 0x9C, one block every 0x20 bytes)."""
    regs: dict[int, int] = {}
    for index, digest in enumerate(efuses.key_digests):
        regs.update(_digest_words(base + 0x9C + 0x20 * index, digest))
    return regs


# BLOCK0 bits of RD_REPEAT_DATA0 that secure boot sets (ESP32-S2 places its JTAG bits one lower).
_JTAG_BITS = {ChipType.ESP32S2: (1 << 17) | (1 << 18)}  # SOFT_DIS_JTAG, HARD_DIS_JTAG
_JTAG_BITS_DEFAULT = (1 << 16) | (1 << 19)  # SOFT_DIS_JTAG = 1 (odd: disabled), DIS_PAD_JTAG
# DIS_DOWNLOAD_ICACHE (bit 10) and DIS_DOWNLOAD_DCACHE (bit 11); the ESP32-C3 has no Dcache bit.
_DL_CACHE_BITS = {ChipType.ESP32C3: 1 << 10}
_DL_CACHE_BITS_DEFAULT = (1 << 10) | (1 << 11)
ENABLE_SECURITY_DOWNLOAD_BIT = 5  # in RD_REPEAT_DATA3


def _block0(chip: ChipType, base: int, efuses: EfuseState, sb_bit: int = 20) -> dict[int, int]:
    """BLOCK0 words shared by ESP32-S2/S3/C3: JTAG and download-cache locks, crypt count, key
    purposes, SECURE_BOOT_EN and secure download mode (RD_REPEAT_DATA0..3)."""
    purposes = efuses.key_purposes()
    word0 = _JTAG_BITS.get(chip, _JTAG_BITS_DEFAULT) if efuses.jtag_disabled else 0
    if efuses.download_dcache_disabled:
        word0 |= _DL_CACHE_BITS.get(chip, _DL_CACHE_BITS_DEFAULT)
    word1 = ((efuses.flash_crypt_cnt & 0x7) << 18) | (purposes[0] << 24) | (purposes[1] << 28)
    word2 = purposes[2] | (purposes[3] << 4) | (purposes[4] << 8) | (purposes[5] << 12)
    if efuses.secure_boot_en:
        word2 |= 1 << sb_bit
    word3 = (1 << ENABLE_SECURITY_DOWNLOAD_BIT) if efuses.secure_download else 0
    return {base + 0x30: word0, base + 0x34: word1, base + 0x38: word2, base + 0x3C: word3}


def _c3_layout(chip: ChipType, base: int, efuses: EfuseState, mac: bytes, rev: Revision) -> dict[int, int]:
    """ESP32-C3 and ESP32-S3 share the BLOCK0/BLOCK1 layout, at their own eFuse base."""
    block1 = base + 0x44
    w0, w1 = _mac_words(mac)
    regs = _block0(chip, base, efuses) | _key_blocks(base, efuses)
    regs.update(
        {
            block1: w0,
            block1 + 4: w1,
            block1 + 12: (rev.minor & 0x7) << 18,
            block1 + 16: 0,
            block1 + 20: (((rev.minor >> 3) & 1) << 23) | ((rev.major & 0x3) << 24),
        }
    )
    return regs


def _esp32c3(efuses: EfuseState, mac: bytes, rev: Revision) -> dict[int, int]:
    return _c3_layout(ChipType.ESP32C3, 0x60008800, efuses, mac, rev)


def _esp32s3(efuses: EfuseState, mac: bytes, rev: Revision) -> dict[int, int]:
    return _c3_layout(ChipType.ESP32S3, 0x60007000, efuses, mac, rev)


def _esp32s2(efuses: EfuseState, mac: bytes, rev: Revision) -> dict[int, int]:
    base = 0x3F41A000
    block1 = base + 0x44
    w0, w1 = _mac_words(mac)
    regs = _block0(ChipType.ESP32S2, base, efuses) | _key_blocks(base, efuses)
    regs.update(
        {
            block1: w0,
            block1 + 4: w1,
            block1 + 12: ((rev.major & 0x3) << 18) | (((rev.minor >> 3) & 1) << 20),
            block1 + 16: (rev.minor & 0x7) << 4,
        }
    )
    return regs


MODELS: dict[ChipType, ChipModel] = {
    ChipType.ESP32: ChipModel(
        ChipType.ESP32,
        0x00F01D83,
        SecurityInfo.NONE,
        Revision(3, 0),
        0x3FF42000,
        0x24,
        0x80,
        True,
        0x3FF40014,
        "ets Jul 29 2019 12:21:46\n",
        "0x1 (POWERON_RESET)",
        "0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))",
        "0x13 (SPI_FAST_FLASH_BOOT)",
        _esp32,
    ),
    ChipType.ESP32C3: ChipModel(
        ChipType.ESP32C3,
        0x6921506F,
        SecurityInfo.FULL,
        Revision(0, 4),
        0x60002000,
        0x20,
        0x58,
        False,
        0x60000014,
        "ESP-ROM:esp32c3-api1-20210207\nBuild:Feb  7 2021",
        "0x1 (POWERON)",
        "0x5 (DOWNLOAD(USB/UART0/1))",
        "0xc (SPI_FAST_FLASH_BOOT)",
        _esp32c3,
    ),
    ChipType.ESP32S2: ChipModel(
        ChipType.ESP32S2,
        0x000007C6,
        SecurityInfo.SHORT,
        Revision(0, 0),
        0x3F402000,
        0x20,
        0x58,
        False,
        0x3F400014,
        "ESP-ROM:esp32s2-rc4-20191025\nBuild:Oct 25 2019",
        "0x1 (POWERON)",
        "0x0 (DOWNLOAD(USB/UART0/1))",
        "0x8 (SPI_FAST_FLASH_BOOT)",
        _esp32s2,
    ),
    ChipType.ESP32S3: ChipModel(
        ChipType.ESP32S3,
        0x00000009,
        SecurityInfo.FULL,
        Revision(0, 2),
        0x60002000,
        0x20,
        0x58,
        False,
        0x60000014,
        "ESP-ROM:esp32s3-20210327\nBuild:Mar 27 2021",
        "0x1 (POWERON)",
        "0x0 (DOWNLOAD(USB/UART0/1))",
        "0x8 (SPI_FAST_FLASH_BOOT)",
        _esp32s3,
    ),
}
