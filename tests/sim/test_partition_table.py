"""The partition table binary: the simulation layout, and the bootloader's reading of any table."""

from __future__ import annotations

import itertools

import pytest

from app.domain.chips import FACTORY_APP_OFFSET, ChipType
from app.sim.images import build_sim_partition_table
from app.sim.partition_table import (
    SUBTYPE_EFUSE,
    TYPE_APP,
    TYPE_DATA,
    Partition,
    PartitionTableError,
    build_partition_table,
    parse_partition_table,
)


def test_partition_table_layout() -> None:
    table = build_sim_partition_table(ChipType.ESP32C3)
    assert len(table) == 0xC00
    parts = {p.name: p for p in parse_partition_table(table)}
    assert list(parts) == ["nvs", "phy_init", "factory", "efuse_em", "otadata", "ota_0"]
    assert parts["factory"].type == TYPE_APP and parts["factory"].offset == FACTORY_APP_OFFSET
    assert parts["factory"].size == 0x100000
    assert parts["efuse_em"].type == TYPE_DATA and parts["efuse_em"].subtype == SUBTYPE_EFUSE
    assert (parts["otadata"].type, parts["otadata"].subtype, parts["otadata"].size) == (TYPE_DATA, 0, 0x2000)
    assert (parts["ota_0"].type, parts["ota_0"].subtype, parts["ota_0"].size) == (TYPE_APP, 0x10, 0x100000)
    ordered = sorted(parts.values(), key=lambda p: p.offset)
    assert all(a.end <= b.offset for a, b in itertools.pairwise(ordered))
    assert ordered[0].offset >= 0x9000  # after the table itself at 0x8000
    assert all(p.offset % 0x1000 == 0 for p in ordered)


def test_partition_table_md5_entry_is_checked() -> None:
    table = bytearray(build_sim_partition_table(ChipType.ESP32))
    table[4 * 32 - 1] ^= 0x01  # flip a bit in the last entry's flags
    with pytest.raises(PartitionTableError, match="MD5 does not match"):
        parse_partition_table(bytes(table))


def test_partition_table_bad_magic_and_blank_are_refused() -> None:
    with pytest.raises(PartitionTableError, match="no partition table at 0x8000"):
        parse_partition_table(b"\xff" * 0xC00)
    with pytest.raises(PartitionTableError, match="bad magic"):
        parse_partition_table(b"\x12\x34" + b"\x00" * 30 + b"\xff" * 0xBE0)


def test_table_without_md5_entry_is_accepted() -> None:
    parts = (Partition("factory", TYPE_APP, 0, 0x10000, 0x100000),)
    table = build_partition_table(parts)
    without_md5 = table[:32] + b"\xff" * (len(table) - 32)
    assert parse_partition_table(without_md5) == parts
