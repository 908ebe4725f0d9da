"""Port discovery: pyserial port records described, and virtual boards read from a real registry folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from serial.tools.list_ports_common import ListPortInfo

from app.domain.chips import ChipType
from app.ports.discovery import (
    PortKind,
    describe_serial_port,
    list_all_ports,
    list_serial_ports,
    list_virtual_boards,
)
from app.ports.usb_ids import ResetStyle
from app.system.paths import DataDir
from app.system.sim_registry import VirtualBoardEntry, register


def _usb_port(device: str, vid: int | None, pid: int | None, description: str) -> ListPortInfo:
    port = ListPortInfo(device, skip_link_detection=True)
    port.vid, port.pid = vid, pid
    port.description = description
    port.serial_number = "A50285BI"
    port.location = "1-1.4:1.0"
    return port


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_cp210x_port_is_identified() -> None:
    info = describe_serial_port(_usb_port("/dev/ttyUSB0", 0x10C4, 0xEA60, "CP2102N USB to UART Bridge"))
    assert info.url == "/dev/ttyUSB0"
    assert info.kind is PortKind.USB
    assert info.usb_id == "10c4:ea60"
    assert info.bridge is not None and info.bridge.product == "CP210x"
    assert info.description == "CP2102N USB to UART Bridge (Silicon Labs CP210x)"
    assert info.likely_esp
    assert info.serial_number == "A50285BI"
    assert info.location == "1-1.4:1.0"


def test_native_usb_jtag_needs_usb_reset() -> None:
    info = describe_serial_port(_usb_port("/dev/ttyACM0", 0x303A, 0x1001, "USB JTAG/serial debug unit"))
    assert info.reset_style is ResetStyle.USB_JTAG
    assert info.likely_esp


def test_unknown_usb_device_listed_but_not_likely_esp() -> None:
    info = describe_serial_port(_usb_port("/dev/ttyACM3", 0x2341, 0x0043, "Arduino Uno"))
    assert info.kind is PortKind.USB
    assert info.bridge is None
    assert not info.likely_esp
    assert info.description == "Arduino Uno"


def test_port_without_usb_identity() -> None:
    info = describe_serial_port(_usb_port("/dev/ttyS0", None, None, "n/a"))
    assert info.kind is PortKind.OTHER
    assert info.usb_id is None


def test_real_listing_is_usb_only_unless_asked() -> None:
    usb = list_serial_ports()
    everything = list_serial_ports(include_other=True)
    assert all(p.kind is PortKind.USB for p in usb)
    assert {p.url for p in usb} <= {p.url for p in everything}


def test_virtual_boards_of_live_processes_only(tmp_path: Path) -> None:
    registry = DataDir(tmp_path).sim_registry
    register(
        registry,
        VirtualBoardEntry("sim-2", "rfc2217://127.0.0.1:40002", "esp32s3", "aa:bb:cc:00:00:02", os.getpid()),
    )
    register(
        registry,
        VirtualBoardEntry("sim-1", "rfc2217://127.0.0.1:40001", "esp32c3", "aa:bb:cc:00:00:01", os.getpid()),
    )
    register(
        registry,
        VirtualBoardEntry("sim-9", "rfc2217://127.0.0.1:40009", "esp32c3", "aa:bb:cc:00:00:09", dead_pid()),
    )
    boards = list_virtual_boards(registry)
    assert [b.name for b in boards] == ["sim-1", "sim-2"]
    first = boards[0]
    assert first.url == "rfc2217://127.0.0.1:40001"
    assert first.kind is PortKind.VIRTUAL
    assert first.chip is ChipType.ESP32C3
    assert first.mac == "aa:bb:cc:00:00:01"
    assert first.description == "virtual ESP32-C3 board sim-1"
    assert first.likely_esp


def test_virtual_board_of_unknown_chip_keeps_its_name(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    register(
        registry,
        VirtualBoardEntry("sim-6", "rfc2217://127.0.0.1:40006", "esp32c6", "aa:bb:cc:00:00:06", os.getpid()),
    )
    (board,) = list_virtual_boards(registry)
    assert board.chip is None
    assert board.description == "virtual esp32c6 board sim-6"


def test_missing_registry_means_no_virtual_boards(tmp_path: Path) -> None:
    assert list_virtual_boards(tmp_path / "nowhere") == []


def test_all_ports_end_with_virtual_boards(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    register(
        registry,
        VirtualBoardEntry("sim-1", "rfc2217://127.0.0.1:40001", "esp32c3", "aa:bb:cc:00:00:01", os.getpid()),
    )
    ports = list_all_ports(registry)
    assert ports[-1].url == "rfc2217://127.0.0.1:40001"
    assert [p.url for p in ports[:-1]] == [p.url for p in list_serial_ports()]
    assert list_all_ports(None) == list_serial_ports()
