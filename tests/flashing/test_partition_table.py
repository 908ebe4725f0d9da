"""parse_partition_table on ESP-IDF binary tables built in the test, and on damaged ones."""

from __future__ import annotations

import pytest

from app.domain.errors import ValidationError
from app.flashing.partition_table import parse_partition_table

from .builders import STANDARD_TABLE, build_partition_table


def test_entries_read_in_order() -> None:
    table = parse_partition_table(build_partition_table(STANDARD_TABLE))
    assert [(e.label, e.type, e.subtype, e.offset, e.size) for e in table.entries] == STANDARD_TABLE
    assert table.has_md5 is True
    factory = table.app_at(0x10000)
    assert factory is not None and factory.label == "factory"
    assert table.app_at(0x9000) is None  # nvs is data, not app


def test_table_without_md5_entry() -> None:
    table = parse_partition_table(build_partition_table(STANDARD_TABLE, md5=False))
    assert table.has_md5 is False
    assert len(table.entries) == 3


def test_md5_mismatch_names_both_digests() -> None:
    data = bytearray(build_partition_table(STANDARD_TABLE))
    data[8] ^= 0x01  # offset of the first entry
    with pytest.raises(ValidationError, match="partition table MD5 mismatch \\(entry 4\\): the table says"):
        parse_partition_table(bytes(data))


def test_missing_end_marker() -> None:
    data = build_partition_table(STANDARD_TABLE, md5=False)[: 3 * 32]
    data += b"\x00" * 32
    with pytest.raises(
        ValidationError, match="not a partition table: entry 4 at offset 0x60 starts with 0x0000"
    ):
        parse_partition_table(data)


def test_table_cut_short() -> None:
    data = build_partition_table(STANDARD_TABLE, md5=False)[: 3 * 32 + 10]
    with pytest.raises(ValidationError, match="entry 4 at offset 0x60 is cut short \\(10 of 32 bytes\\)"):
        parse_partition_table(data)


def test_empty_table() -> None:
    with pytest.raises(ValidationError, match="partition table is empty"):
        parse_partition_table(b"\xff" * 0xC00)


def test_overlapping_partitions() -> None:
    rows = [("nvs", 1, 2, 0x9000, 0x8000), ("phy_init", 1, 1, 0xF000, 0x1000)]
    with pytest.raises(ValidationError, match=r"partitions 'nvs' .* and 'phy_init' .* overlap"):
        parse_partition_table(build_partition_table(rows))


def test_zero_size_partition() -> None:
    with pytest.raises(ValidationError, match="entry 1 \\('nvs'\\) has size 0"):
        parse_partition_table(build_partition_table([("nvs", 1, 2, 0x9000, 0)]))
