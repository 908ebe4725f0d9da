"""Many boards in one process: unique identities, persistence per state folder, registry handshake."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.domain.chips import ChipType
from app.domain.errors import ConflictError, ValidationError
from app.sim.fleet import SimFleet
from app.system import sim_registry
from tests.sim.sim_host import esptool_session


def test_boards_have_their_own_urls_macs_and_registry_entries(
    make_fleet: Callable[..., SimFleet], tmp_path: Path
) -> None:
    registry = tmp_path / "registry"
    fleet = make_fleet(count=3, chip=ChipType.ESP32S2, registry=registry)
    assert len(set(fleet.urls)) == 3
    assert all(url.startswith("rfc2217://127.0.0.1:") for url in fleet.urls)
    assert len({b.mac for b in fleet.boards}) == 3
    entries = sim_registry.list_live(registry)
    assert [(e.name, e.url, e.chip, e.mac) for e in entries] == [
        (b.name, s.url, "esp32s2", b.mac) for b, s in zip(fleet.boards, fleet.servers, strict=True)
    ]
    fleet.servers[1].unplug()
    assert [e.name for e in sim_registry.list_live(registry)] == ["sim-1", "sim-3"]
    fleet.close()
    assert sim_registry.list_live(registry) == []


def test_same_state_root_is_the_same_board(make_fleet: Callable[..., SimFleet], tmp_path: Path) -> None:
    root = tmp_path / "boards"
    first = make_fleet(state_root=root)
    mac = first.boards[0].mac
    with esptool_session(first.urls[0]) as esp:
        esp.flash_begin(4, 0x3000)
        esp.flash_block(b"\x12\x34\x56\x78" + b"\xff" * (esp.FLASH_WRITE_SIZE - 4), 0)
        esp.flash_finish(reboot=False)
    first.close()
    second = make_fleet(state_root=root)
    assert second.boards[0].mac == mac
    assert second.boards[0].state.flash.read(0x3000, 4) == b"\x12\x34\x56\x78"
    fresh = make_fleet(state_root=tmp_path / "other")
    assert fresh.boards[0].mac != mac
    assert fresh.boards[0].state.flash.read(0x3000, 4) == b"\xff" * 4


def test_state_folder_of_another_chip_is_refused(make_fleet: Callable[..., SimFleet], tmp_path: Path) -> None:
    make_fleet(state_root=tmp_path / "boards", chip=ChipType.ESP32C3).close()
    with pytest.raises(
        ConflictError, match="holds an ESP32-C3 board, not an ESP32-S3; use another state folder"
    ):
        make_fleet(state_root=tmp_path / "boards", chip=ChipType.ESP32S3)


@pytest.mark.parametrize("count", [0, 65])
def test_board_count_is_checked(tmp_path: Path, count: int) -> None:
    with pytest.raises(ValidationError, match=f"a simulator runs 1 to 64 boards; {count} were asked for"):
        SimFleet(tmp_path, count=count)


def test_more_faults_than_boards_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="faults were given for 2 boards but only 1 are simulated"):
        SimFleet(tmp_path, count=1, faults=[None, None])


def test_default_access_point_is_fresh_per_fleet(make_fleet: Callable[..., SimFleet], tmp_path: Path) -> None:
    a = SimFleet(tmp_path / "a", pacing=False)
    b = SimFleet(tmp_path / "b", pacing=False)
    try:
        assert a.access_point.ssid.startswith("ql-sim-")
        assert a.access_point.password != b.access_point.password
        assert a.access_point.password not in repr(a.access_point)
    finally:
        a.close()
        b.close()
