"""Every port a board could be on: real serial ports (USB-identified) and running virtual boards.

Real ports come from pyserial's list_ports; virtual boards from the registry files the simulator
writes into the data folder (entries of dead simulator processes are left out). Both are returned as
`PortInfo` with a pyserial URL, so everything above this layer opens either kind the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from serial.tools import list_ports

from app.domain.chips import ChipType
from app.domain.errors import ValidationError
from app.ports.usb_ids import ResetStyle, UsbBridge, identify_usb
from app.system.sim_registry import VirtualBoardEntry, list_live


class PortKind(Enum):
    USB = "usb"
    VIRTUAL = "virtual"
    OTHER = "other"  # a serial port without USB identity (built-in UART, socket, ...)


@dataclass(frozen=True)
class PortInfo:
    """One place a board can be reached. `url` is what pyserial/esptool open."""

    url: str
    kind: PortKind
    description: str
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    location: str | None = None
    bridge: UsbBridge | None = None
    chip: ChipType | None = None  # known only for virtual boards until a connection identifies it
    mac: str | None = None
    name: str | None = None  # virtual board name, e.g. "sim-3"

    @property
    def usb_id(self) -> str | None:
        if self.vid is None or self.pid is None:
            return None
        return f"{self.vid:04x}:{self.pid:04x}"

    @property
    def likely_esp(self) -> bool:
        """A virtual board or a USB id ESP32 boards use; other ports are listed, not picked by --all."""
        return self.kind is PortKind.VIRTUAL or self.bridge is not None

    @property
    def reset_style(self) -> ResetStyle:
        return self.bridge.reset_style if self.bridge is not None else ResetStyle.BRIDGE


def describe_serial_port(port: Any) -> PortInfo:
    """Turn one pyserial ListPortInfo into a PortInfo, naming its bridge when the VID/PID is known."""
    vid, pid = port.vid, port.pid
    bridge = identify_usb(vid, pid)
    description = str(port.description or port.device)
    if bridge is not None and bridge.label not in description:
        description = f"{description} ({bridge.label})"
    return PortInfo(
        url=str(port.device),
        kind=PortKind.USB if vid is not None else PortKind.OTHER,
        description=description,
        vid=vid,
        pid=pid,
        serial_number=port.serial_number,
        location=port.location,
        bridge=bridge,
    )


def describe_virtual_board(entry: VirtualBoardEntry) -> PortInfo:
    try:
        chip: ChipType | None = ChipType.parse(entry.chip)
    except ValidationError:
        chip = None
    chip_name = chip.display_name if chip is not None else entry.chip
    bridge = identify_usb(entry.usb_vid, entry.usb_pid)
    behind = f" behind a {bridge.label}" if bridge is not None else ""
    return PortInfo(
        url=entry.url,
        kind=PortKind.VIRTUAL,
        description=f"virtual {chip_name} board {entry.name}{behind}",
        vid=entry.usb_vid,
        pid=entry.usb_pid,
        bridge=bridge,
        chip=chip,
        mac=entry.mac,
        name=entry.name,
    )


def list_serial_ports(include_other: bool = False) -> list[PortInfo]:
    """Real serial ports, USB ones only unless `include_other` (built-in UARTs are rarely boards)."""
    ports = [describe_serial_port(p) for p in list_ports.comports()]
    return sorted((p for p in ports if include_other or p.kind is PortKind.USB), key=lambda p: p.url)


def list_virtual_boards(registry: Path) -> list[PortInfo]:
    return [describe_virtual_board(entry) for entry in list_live(registry)]


def list_all_ports(registry: Path | None, include_other: bool = False) -> list[PortInfo]:
    """Real ports first, then virtual boards (when a data folder's registry is given)."""
    virtual: Iterable[PortInfo] = list_virtual_boards(registry) if registry is not None else ()
    return [*list_serial_ports(include_other), *virtual]
