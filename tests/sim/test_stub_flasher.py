"""esptool's flasher stub on a virtual board: uploaded, checked byte for byte, then answered as the stub.

The board only turns into the stub when the RAM esptool filled is esptool's own stub for that chip, so a
test that sees the `stub` stage knows esptool's stub path (MEM_BEGIN/MEM_DATA/MEM_END, OHAI, stub-only
commands) really ran, and a corrupted upload is caught the way a real chip shows it: no OHAI.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator

import esptool
import pytest
from esptool.cmds import detect_chip, write_flash
from esptool.loader import StubFlasher

from app.domain.chips import ChipType
from app.sim.faults import Stage
from app.sim.fleet import SimFleet
from app.sim.stub_image import identify_stub, stub_images
from tests.sim.sim_host import esptool_session, open_port


@pytest.fixture
def stub_version_1() -> Iterator[None]:
    """esptool's `--stub-version 1` (its legacy stub), put back afterwards."""
    saved = list(StubFlasher.STUB_SUBDIRS), StubFlasher.STUB_VERSION_EXPLICIT
    StubFlasher.set_stub_subdir("1")
    yield
    StubFlasher.STUB_SUBDIRS, StubFlasher.STUB_VERSION_EXPLICIT = saved


@pytest.mark.parametrize("chip", [ChipType.ESP32, ChipType.ESP32C3, ChipType.ESP32S3])
def test_the_simulator_knows_esptools_stubs(chip: ChipType) -> None:
    images = stub_images(chip)
    assert [image.version for image in images] == ["2", "1"]
    for image in images:
        ram = dict(image.segments)
        assert identify_stub(chip, ram, image.entry) == image
        assert identify_stub(chip, ram, image.entry + 4) is None
        addr, text = image.segments[0]
        assert identify_stub(chip, {**ram, addr: text[:-1] + bytes([text[-1] ^ 1])}, image.entry) is None


@pytest.mark.parametrize("chip", [ChipType.ESP32C3, ChipType.ESP32S3])
def test_default_mode_runs_the_stub_and_writes_through_it(
    make_fleet: Callable[..., SimFleet], chip: ChipType
) -> None:
    fleet = make_fleet(chip=chip)
    board = fleet.boards[0]
    data = os.urandom(40 * 1024)
    with esptool_session(fleet.urls[0], baud=921600) as esp:
        assert esp.IS_STUB
        assert Stage.STUB in board.stages
        write_flash(esp, [(0x50000, data)])  # compressed, 16 KiB blocks: what only the stub takes
        assert esp.flash_md5sum(0x50000, len(data)) == hashlib.md5(data).hexdigest()  # noqa: S324
        esp.erase_region(0x60000, 0x1000)  # a stub-only command
    assert board.state.flash.read(0x50000, len(data)) == data
    assert board.errors == []


def test_the_legacy_stub_is_recognised_too(make_fleet: Callable[..., SimFleet], stub_version_1: None) -> None:
    fleet = make_fleet()
    with esptool_session(fleet.urls[0]) as esp:
        assert esp.IS_STUB
        write_flash(esp, [(0x40000, b"legacy stub" * 100)])
    assert Stage.STUB in fleet.boards[0].stages
    assert fleet.boards[0].state.flash.read(0x40000, 11) == b"legacy stub"


def test_a_corrupted_stub_upload_does_not_start(make_fleet: Callable[..., SimFleet]) -> None:
    fleet = make_fleet()
    board = fleet.boards[0]
    port = open_port(fleet.urls[0], lines_released=False)
    try:
        esp = detect_chip(port)
        stub = StubFlasher(esp)
        stub.text = stub.text[:100] + bytes([stub.text[100] ^ 0x40]) + stub.text[101:]
        with pytest.raises(esptool.FatalError, match="Failed to start stub flasher"):
            esp.run_stub(stub)
    finally:
        port.close()
    assert Stage.STUB not in board.stages
    with esptool_session(fleet.urls[0]) as esp:  # after a reset the board takes the real stub
        assert esp.IS_STUB
    assert Stage.STUB in board.stages
    assert board.errors == []


def test_no_stub_stays_in_the_rom(make_fleet: Callable[..., SimFleet]) -> None:
    """esptool --no-stub: the ROM loader writes and verifies on its own; the stub never starts."""
    fleet = make_fleet()
    board = fleet.boards[0]
    data = os.urandom(5000)
    port = open_port(fleet.urls[0], lines_released=False)
    try:
        esp = detect_chip(port)
        assert not esp.IS_STUB
        write_flash(esp, [(0x40000, data)], compress=False)
        assert esp.flash_md5sum(0x40000, len(data)) == hashlib.md5(data).hexdigest()  # noqa: S324
    finally:
        port.close()
    assert board.state.flash.read(0x40000, len(data)) == data
    assert Stage.STUB not in board.stages
