"""The ESP32-family chips the station provisions and the facts that differ between them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from app.domain.errors import ValidationError
from app.domain.kinds import KeyType


@dataclass(frozen=True)
class ChipProfile:
    """Per-chip constants. `image_chip_id` is the chip id in the ESP image extended header."""

    display_name: str
    bootloader_offset: int
    image_chip_id: int
    esptool_name: str
    flash_mapped: tuple[range, ...] = ()
    secure_boot_key_types: tuple[KeyType, ...] = (KeyType.RSA_3072,)

    def maps_flash(self, address: int) -> bool:
        """True if `address` is in the instruction or data window the cache maps from flash.

        Only an app loads segments there; the ROM loads a bootloader into RAM only, so this is what
        tells the two kinds of image apart.
        """
        return any(address in window for window in self.flash_mapped)


class ChipType(Enum):
    """A chip family the station knows. The value is the name esptool and the CLI use."""

    ESP32 = "esp32"
    ESP32C3 = "esp32c3"
    ESP32S2 = "esp32s2"
    ESP32S3 = "esp32s3"

    @property
    def profile(self) -> ChipProfile:
        return _PROFILES[self]

    @property
    def bootloader_offset(self) -> int:
        return _PROFILES[self].bootloader_offset

    @property
    def display_name(self) -> str:
        return _PROFILES[self].display_name

    def check_secure_boot_key(self, key_type: KeyType) -> None:
        """Refuse a signing key the chip's ROM cannot verify (ESP-IDF Secure Boot V2 docs)."""
        allowed = _PROFILES[self].secure_boot_key_types
        if key_type not in allowed:
            names = " or ".join(k.value for k in allowed)
            raise ValidationError(
                f"{self.display_name} Secure Boot V2 verifies {names} signatures only; "
                f"a {key_type.value} key cannot sign its bootloader"
            )

    @classmethod
    def parse(cls, value: str) -> ChipType:
        """Accept 'esp32c3', 'ESP32-C3' or 'esp32-c3'; reject anything else with the known list."""
        key = value.strip().lower().replace("-", "").replace("_", "")
        for chip in cls:
            if chip.value == key:
                return chip
        known = ", ".join(c.value for c in cls)
        raise ValidationError(f"unknown device type {value!r}; known types: {known}")

    @classmethod
    def from_image_chip_id(cls, chip_id: int) -> ChipType | None:
        for chip, profile in _PROFILES.items():
            if profile.image_chip_id == chip_id:
                return chip
        return None


# Offsets and image chip ids are those of ESP-IDF / esptool for each family. Secure Boot V2 on these
# four families is RSA-3072 (RSA-PSS) only; ECDSA arrives with ESP32-C2/C6/H2/P4.
# The flash-mapped windows (IROM, DROM) are esptool's IROM_MAP_* and DROM_MAP_* for each target.
_PROFILES: dict[ChipType, ChipProfile] = {
    ChipType.ESP32: ChipProfile(
        "ESP32", 0x1000, 0x0000, "esp32", (range(0x400D0000, 0x40400000), range(0x3F400000, 0x3F800000))
    ),
    ChipType.ESP32C3: ChipProfile(
        "ESP32-C3", 0x0, 0x0005, "esp32c3", (range(0x42000000, 0x42800000), range(0x3C000000, 0x3C800000))
    ),
    ChipType.ESP32S2: ChipProfile(
        "ESP32-S2", 0x1000, 0x0002, "esp32s2", (range(0x40080000, 0x40B80000), range(0x3F000000, 0x3F3F0000))
    ),
    ChipType.ESP32S3: ChipProfile(
        "ESP32-S3", 0x0, 0x0009, "esp32s3", (range(0x42000000, 0x44000000), range(0x3C000000, 0x3E000000))
    ),
}

PARTITION_TABLE_OFFSET = 0x8000
"""Where every supported chip's bootloader looks for the partition table."""

FACTORY_APP_OFFSET = 0x10000
"""Offset of the factory app partition in the station's partition table (the IEF lives there)."""

MAX_IMAGE_SIZE = 16 * 1024 * 1024
"""No bootloader, partition table or IEF the station flashes is larger (ESP-IDF apps are a few MiB, and
16 MiB is the largest flash most ESP32-family modules carry); a file that describes more is refused
before anything that size is allocated."""

MAX_FLASH_SIZE = 128 * 1024 * 1024
"""The largest flash an ESP image header can declare (esptool's "128MB"): no partition can end past it."""
