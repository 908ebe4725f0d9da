"""Re-flashing only changed sectors: the plan on its own, and BoardConnection against a virtual board.

The board's flash counts the sectors it erases and the bytes it programs, so "nothing was written" is
what the board saw, not what the station believes.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.chips import FACTORY_APP_OFFSET, PARTITION_TABLE_OFFSET, ChipType
from app.domain.kinds import BootloaderKind, ImageKind
from app.domain.records import FlashImage
from app.flashing.board_connection import BoardConnection, WriteResult
from app.flashing.flash_diff import SECTOR_SIZE, plan_write
from app.flashing.flash_errors import VerifyError
from app.flashing.flash_events import FlashEvent, FlashLog, FlashProgress
from app.provisioning import serial_urls
from app.sim.fleet import SimFleet
from app.sim.images import build_sim_bootloader, build_sim_partition_table
from app.sim.run_context import AccessPoint

IEF_SIZE = 300 * 1024 + 123  # not a whole number of sectors


def _apply(flash: bytearray, offset: int, data: bytes, runs: tuple[tuple[int, int], ...]) -> None:
    """What the flasher does for each run: erase the sectors it touches, then program the bytes."""
    for start, end in runs:
        first, last = offset + start, offset + end
        erase_end = -(-last // SECTOR_SIZE) * SECTOR_SIZE
        flash[first:erase_end] = b"\xff" * (erase_end - first)
        flash[first:last] = data[start:end]


def _md5_of(flash: bytearray, counter: list[int]):  # type: ignore[no-untyped-def]
    def md5(address: int, size: int) -> str:
        counter.append(size)
        return hashlib.md5(flash[address : address + size], usedforsecurity=False).hexdigest()

    return md5


@settings(max_examples=60, deadline=None)
@given(
    old=st.binary(min_size=1, max_size=9 * SECTOR_SIZE),
    new=st.binary(min_size=1, max_size=9 * SECTOR_SIZE),
    sector=st.integers(0, 3),
)
def test_writing_the_plan_leaves_what_a_full_write_leaves(old: bytes, new: bytes, sector: int) -> None:
    offset = sector * SECTOR_SIZE
    flash = bytearray(b"\xff" * 16 * SECTOR_SIZE)
    _apply(flash, offset, old, ((0, len(old)),))
    full = bytearray(flash)
    _apply(full, offset, new, ((0, len(new)),))
    plan = plan_write(offset, new, _md5_of(flash, []))
    _apply(flash, offset, new, plan.runs)
    assert flash == full
    assert all(start % SECTOR_SIZE == 0 for start, _ in plan.runs)


def test_an_unchanged_image_costs_one_md5_and_one_changed_byte_one_sector() -> None:
    data = random.Random(1).randbytes(256 * SECTOR_SIZE)
    flash = bytearray(b"\xff" * 0x10000) + bytearray(data)
    asked: list[int] = []
    assert plan_write(0x10000, data, _md5_of(flash, asked)).unchanged and len(asked) == 1
    flash[0x10000 + 77 * SECTOR_SIZE + 5] ^= 0xFF
    plan = plan_write(0x10000, data, _md5_of(flash, asked))
    assert plan.runs == ((77 * SECTOR_SIZE, 78 * SECTOR_SIZE),) and plan.changed_sectors == 1
    other = random.Random(2).randbytes(len(data))
    asked.clear()
    everything = plan_write(0x10000, other, _md5_of(flash, asked))
    assert everything.runs == ((0, len(other)),) and len(asked) <= 1 + 16


def test_erased_flash_costs_one_md5_and_its_blank_sectors_are_not_written() -> None:
    data = bytearray(random.Random(3).randbytes(40 * SECTOR_SIZE))
    data[8 * SECTOR_SIZE : 10 * SECTOR_SIZE] = b"\xff" * (2 * SECTOR_SIZE)  # blank in the image too
    flash = bytearray(b"\xff" * (0x10000 + len(data)))  # a new board
    asked: list[int] = []
    plan = plan_write(0x10000, bytes(data), _md5_of(flash, asked))
    assert len(asked) == 1
    assert plan.runs == ((0, 8 * SECTOR_SIZE), (10 * SECTOR_SIZE, 40 * SECTOR_SIZE))
    _apply(flash, 0x10000, bytes(data), plan.runs)
    assert flash[0x10000:] == data


def test_an_image_inside_a_sector_is_written_whole() -> None:
    plan = plan_write(0x8001, b"x" * 100, lambda a, n: "")
    assert not plan.compared and plan.runs == ((0, 100),)


# --------------------------------------------------------------------------- against a virtual board


@pytest.fixture
def board_url(tmp_path: Path) -> Iterator[tuple[str, SimFleet]]:
    serial_urls.install()
    fleet = SimFleet(tmp_path / "boards", pacing=False, access_point=AccessPoint("bench", "pw-bench-x"))
    try:
        yield fleet.urls[0], fleet
    finally:
        fleet.close()


def _images(ief: bytes) -> list[FlashImage]:
    chip = ChipType.ESP32C3
    return [
        FlashImage(
            chip.bootloader_offset,
            ImageKind.BOOTLOADER,
            "bootloader",
            build_sim_bootloader(chip, BootloaderKind.DEV),
        ),
        FlashImage(
            PARTITION_TABLE_OFFSET,
            ImageKind.PARTITION_TABLE,
            "partition-table",
            build_sim_partition_table(chip),
        ),
        FlashImage(FACTORY_APP_OFFSET, ImageKind.IEF, "ief", ief),
    ]


def _write(url: str, images: list[FlashImage], events: list[FlashEvent] | None = None) -> WriteResult:
    sink = events.append if events is not None else (lambda event: None)
    with BoardConnection.open(url, sink=sink) as board:
        board.run_stub()
        return board.write_images(images, sink=sink)


def test_reflash_writes_only_what_differs(board_url: tuple[str, SimFleet]) -> None:
    url, fleet = board_url
    flash = fleet.boards[0].state.flash
    ief = random.Random(3).randbytes(IEF_SIZE)
    first = _write(url, _images(ief))
    assert all(first.verified) and first.sectors_written == sum(p.sectors for p in first.plans)

    erased, written = flash.sectors_erased, flash.bytes_written
    events: list[FlashEvent] = []
    again = _write(url, _images(ief), events)
    assert all(again.verified) and all(plan.unchanged for plan in again.plans)
    assert (flash.sectors_erased, flash.bytes_written) == (erased, written), "nothing may be written"
    assert any(isinstance(e, FlashLog) and "already in flash" in e.text for e in events)
    last = [e for e in events if isinstance(e, FlashProgress)][-1]
    assert last.overall_done == last.overall_total

    changed = bytearray(ief)
    changed[60 * SECTOR_SIZE + 17] ^= 0x01
    erased = flash.sectors_erased
    one = _write(url, _images(bytes(changed)))
    assert all(one.verified) and one.sectors_written == 1
    assert flash.sectors_erased - erased == 1
    assert flash.read(FACTORY_APP_OFFSET, len(changed)) == bytes(changed)


def test_a_board_with_another_image_is_written_whole(board_url: tuple[str, SimFleet]) -> None:
    url, fleet = board_url
    flash = fleet.boards[0].state.flash
    _write(url, _images(random.Random(4).randbytes(IEF_SIZE)))
    other = random.Random(5).randbytes(IEF_SIZE)
    erased = flash.sectors_erased
    result = _write(url, _images(other))
    ief_plan = result.plans[2]
    assert ief_plan.changed_sectors == ief_plan.sectors and ief_plan.runs == ((0, IEF_SIZE),)
    assert flash.sectors_erased - erased >= ief_plan.sectors
    assert flash.read(FACTORY_APP_OFFSET, IEF_SIZE) == other and all(result.verified)


def test_the_whole_image_is_verified_after_writing_its_changed_sectors(
    board_url: tuple[str, SimFleet],
) -> None:
    """A sector that is not rewritten but goes bad meanwhile is caught: the verify covers the image."""
    url, fleet = board_url
    flash = fleet.boards[0].state.flash
    ief = random.Random(6).randbytes(IEF_SIZE)
    _write(url, _images(ief))
    changed = bytearray(ief)
    changed[5] ^= 0x01

    def decay(event: FlashEvent) -> None:
        if isinstance(event, FlashProgress) and event.name == "ief" and event.image_done == event.image_total:
            flash.write(FACTORY_APP_OFFSET + 50 * SECTOR_SIZE, b"\x00")  # an unchanged sector loses bits

    with BoardConnection.open(url, sink=decay) as board, pytest.raises(VerifyError, match="ief at 0x"):
        board.run_stub()
        board.write_images(_images(bytes(changed)), sink=decay)
