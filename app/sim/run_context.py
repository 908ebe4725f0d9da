"""What a piece of simulated firmware (ROM loader, bootloader, IEF) gets to work with while it runs.

Firmware code is plain blocking code on the board's CPU thread. Everything that can block goes through
this context, so a reset or an unplug interrupts it (`Interrupted` from app.sim.uart) wherever it is.
Firmware ends a run itself by raising `Restart` (a software reset into download mode or flash boot).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from app.domain.chips import ChipType
from app.sim.board_state import BoardState
from app.sim.chip_model import ChipModel
from app.sim.faults import Faults, Stage
from app.sim.uart import Uart


class BootMode(Enum):
    DOWNLOAD = "download"  # IO0 low at reset: ROM serial download mode
    FLASH = "flash"  # IO0 high: boot from SPI flash


class Restart(Exception):
    """Firmware asks for a software reset into `mode` (e.g. the stub returning to the ROM loader)."""

    def __init__(self, mode: BootMode, reset_text: str) -> None:
        super().__init__(mode.value)
        self.mode = mode
        self.reset_text = reset_text


def default_routes() -> dict[str, str]:
    """The simulated network's name table: this computer's names lead to loopback (where the instance's
    enrolment service listens when it runs here)."""
    names = {"localhost", socket.gethostname().lower().rstrip(".")}
    return {name: "127.0.0.1" for name in names if name}


@dataclass
class AccessPoint:
    """The simulated WiFi network boards join. The password is a secret: it is never logged.

    `routes` is its DNS: host name (lower case) -> IP address. An endpoint not in it does not resolve.
    """

    ssid: str
    password: str = field(repr=False)
    routes: dict[str, str] = field(default_factory=default_routes)


@dataclass
class RunContext:
    uart: Uart
    generation: int
    chip: ChipType  # what the silicon is (boot checks)
    rom: ChipModel  # what the ROM says it is (normally the same chip)
    state: BoardState
    faults: Faults
    access_point: AccessPoint
    on_stage: Callable[[Stage, RunContext], None]
    started: float = field(default_factory=time.monotonic)

    def read(self, max_bytes: int, timeout: float | None, until: int | None = None) -> bytes:
        return self.uart.read(self.generation, max_bytes, timeout, until)

    def write(self, data: bytes) -> None:
        self.uart.write(self.generation, data)

    def sleep(self, seconds: float) -> None:
        self.uart.sleep(self.generation, seconds)

    def stage(self, stage: Stage) -> None:
        self.on_stage(stage, self)

    def millis(self) -> int:
        """Milliseconds since this run started: the number in ESP-IDF log lines."""
        return int((time.monotonic() - self.started) * 1000)

    def halt(self) -> None:
        """Stop doing anything until the next reset (what a crashed or refusing chip looks like)."""
        while True:
            self.sleep(3600)
