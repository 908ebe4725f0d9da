"""Each fault knob makes the fault happen, as a host sees it."""

from __future__ import annotations

import hashlib
import re
import socket
import time
from collections.abc import Callable
from typing import Any

import esptool
import pytest
import serial
from esptool.cmds import detect_chip

from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind
from app.sim.chip_model import MODELS
from app.sim.faults import Faults, Stage
from app.sim.fleet import SimFleet
from app.system import sim_registry
from tests.sim.sim_host import esptool_session, flash, hard_reset, open_port, run_firmware

Images = Callable[..., list[tuple[int, bytes]]]


def _refuses_connections(url: str) -> bool:
    host, port = url.removeprefix("rfc2217://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return True
    return False


def _boot_output(url: str, seconds: float = 0.6) -> bytes:
    port = open_port(url)
    try:
        hard_reset(port)
        end = time.monotonic() + seconds
        data = b""
        while time.monotonic() < end:
            data += port.read(max(1, port.in_waiting))
        return data
    finally:
        port.close()


def test_vanish_at_byte_n_unplugs_after_exactly_n_bytes(
    make_fleet: Callable[..., SimFleet], tmp_path: Any
) -> None:
    registry = tmp_path / "registry"
    fleet = make_fleet(faults=[Faults(vanish_at_rx_byte=1000)], registry=registry)
    server, board = fleet.servers[0], fleet.boards[0]
    mac = board.mac
    assert [e.name for e in sim_registry.list_live(registry)] == ["sim-1"]
    port = open_port(fleet.urls[0])
    with pytest.raises((serial.SerialException, OSError)):
        for _ in range(50):
            port.write(b"\x55" * 100)
            time.sleep(0.02)
    port.close()
    assert board.uart.rx_bytes == 1000
    assert not server.plugged
    assert _refuses_connections(fleet.urls[0])
    assert sim_registry.list_live(registry) == []

    server.replug()  # the same board comes back on the same URL
    assert [e.mac for e in sim_registry.list_live(registry)] == [mac]
    with esptool_session(fleet.urls[0]) as esp:
        assert ":".join(f"{b:02x}" for b in esp.read_mac()) == mac


def test_vanish_at_stage_interrupts_a_flash_write(make_fleet: Callable[..., SimFleet]) -> None:
    fleet = make_fleet(faults=[Faults(vanish_at_stage=Stage.FLASH_DATA)])
    with pytest.raises((serial.SerialException, OSError, esptool.FatalError)):  # noqa: SIM117
        with esptool_session(fleet.urls[0]) as esp:
            esp.flash_begin(0x4000, 0x10000)
            esp.flash_block(b"\x00" * esp.FLASH_WRITE_SIZE, 0)
    assert Stage.FLASH_DATA in fleet.boards[0].stages
    assert not fleet.servers[0].plugged
    assert fleet.boards[0].state.flash.read(0x10000, 16) == b"\xff" * 16  # nothing was written


@pytest.mark.parametrize(("knob", "every"), [("corrupt_tx_every", 10), ("drop_tx_every", 10)])
def test_bytes_the_board_sends_are_corrupted_or_dropped(
    make_fleet: Callable[..., SimFleet], knob: str, every: int
) -> None:
    fleet = make_fleet(chip=ChipType.ESP32C3)
    board = fleet.boards[0]
    time.sleep(0.05)
    setattr(board.faults, knob, every)
    seen_before = board.uart.tx_seen
    expected = MODELS[ChipType.ESP32C3].banner(download=False).encode()
    output = _boot_output(fleet.urls[0])
    # Reconstruct what the fault should have done to the banner, counting from the board's byte counter.
    faulty = bytearray()
    for index, byte in enumerate(expected, start=seen_before + 1):
        if knob == "drop_tx_every" and index % every == 0:
            continue
        faulty.append(byte ^ 1 if knob == "corrupt_tx_every" and index % every == 0 else byte)
    assert output.startswith(bytes(faulty))
    assert not output.startswith(expected)


@pytest.mark.parametrize("knob", ["corrupt_rx_every", "drop_rx_every"])
def test_bytes_the_host_sends_are_corrupted_or_dropped(
    make_fleet: Callable[..., SimFleet], knob: str
) -> None:
    fleet = make_fleet(faults=[Faults(**{knob: 3})])
    port = open_port(fleet.urls[0], lines_released=False)
    try:
        with pytest.raises(esptool.FatalError, match="Failed to connect"):
            detect_chip(port, connect_attempts=1)
    finally:
        port.close()
    assert Stage.SYNC not in fleet.boards[0].stages  # no SYNC frame arrived intact


def test_stall_at_stage_goes_silent_then_recovers(make_fleet: Callable[..., SimFleet]) -> None:
    fleet = make_fleet(faults=[Faults(stall_at_stage=Stage.MD5)])
    start = time.monotonic()
    with pytest.raises(esptool.FatalError):  # noqa: SIM117
        with esptool_session(fleet.urls[0]) as esp:
            esp.flash_md5sum(0, 0x1000)
    assert time.monotonic() - start >= 3.0  # esptool's own timeout ran out: the board said nothing
    with esptool_session(fleet.urls[0]) as esp:  # a reset ends the stall, and it does not come back
        assert esp.flash_md5sum(0, 0x1000) == hashlib.md5(b"\xff" * 0x1000).hexdigest()  # noqa: S324


def test_stall_for_a_while_in_the_ief(
    make_fleet: Callable[..., SimFleet], signed_images: Images, answers: dict[str, Any]
) -> None:
    fleet = make_fleet(faults=[Faults(stall_at_stage=Stage.IEF_REQUEST, stall_seconds=1.0)])
    flash(fleet.urls[0], signed_images(ChipType.ESP32C3, BootloaderKind.DEV))
    result = run_firmware(fleet.urls[0], answers)
    assert result.connected
    stamps = {
        m.group(2): int(m.group(1)) for line in result.lines if (m := re.match(r"\w \((\d+)\) (.*)", line))
    }
    before = next(t for text, t in stamps.items() if "generating enrolment key" in text)
    after = next(t for text, t in stamps.items() if "received ql_rootCA" in text)
    assert after - before >= 1000


def test_noise_lines_are_interleaved_and_the_protocol_still_completes(
    make_fleet: Callable[..., SimFleet], signed_images: Images, answers: dict[str, Any]
) -> None:
    fleet = make_fleet(faults=[Faults(noise_lines_every=2)])
    flash(fleet.urls[0], signed_images(ChipType.ESP32C3, BootloaderKind.DEV))
    result = run_firmware(fleet.urls[0], answers)
    assert result.connected
    noise = [line for line in result.lines if "garbage" in line or line.strip("\x80\x81\x82 ") == "IEF DAT"]
    assert len(noise) >= 3
    assert result.requests[:5] == ["ql_rootCA", "ql_endpoint", "ql_port", "wifi_ssid", "wifi_password"]


def test_board_reports_a_different_chip(make_fleet: Callable[..., SimFleet]) -> None:
    fleet = make_fleet(chip=ChipType.ESP32C3, faults=[Faults(report_chip=ChipType.ESP32S3)])
    with esptool_session(fleet.urls[0]) as esp:
        assert esp.CHIP_NAME == "ESP32-S3"


def test_board_arrives_locked_to_another_key(
    make_fleet: Callable[..., SimFleet], signed_images: Images, answers: dict[str, Any]
) -> None:
    other = hashlib.sha256(b"a key that is not ours").digest()
    fleet = make_fleet(chip=ChipType.ESP32, faults=[Faults(locked_key_digest=other)])
    with esptool_session(fleet.urls[0]) as esp:
        assert esp.get_secure_boot_enabled()
    flash(fleet.urls[0], signed_images(ChipType.ESP32, BootloaderKind.RELEASE))
    result = run_firmware(fleet.urls[0], answers, timeout=2, until="secure boot check fail")
    assert "secure boot check fail" in result.text()
    assert fleet.boards[0].state.efuses.state.key_digests == (other,)


def test_fault_values_are_checked() -> None:
    with pytest.raises(ValueError, match="drop_tx_every cannot be negative"):
        Faults(drop_tx_every=-1)
    with pytest.raises(ValueError, match="32-byte SHA-256 digest"):
        Faults(locked_key_digest=b"short")
