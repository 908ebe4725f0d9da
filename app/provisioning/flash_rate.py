"""How fast to flash a board: the fastest rate its USB bridge carries reliably, or the rate asked for.

A fixed 921600 baud wastes half the time on a CH340 or FTDI board (2 Mbaud) and is too fast for some
clones. The rate comes from the bridge's USB VID/PID (app/ports/usb_ids.py, each figure with its
datasheet source); a rate set for the run (`--baud`, the station's setting) wins. When a write at a rate
fails anyway, the flash step tries once more at the next lower rate (`next_lower_baud`), and says so in
the board's log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.ports.discovery import PortInfo
from app.ports.usb_ids import UsbBridge
from app.provisioning.job import AUTO_BAUD, DEFAULT_BAUD, FLASH_BAUDS, next_lower_baud

__all__ = ["FlashRate", "choose_flash_rate", "next_lower_baud", "rate_for_port"]


@dataclass(frozen=True)
class FlashRate:
    baud: int
    reason: str

    def sentence(self) -> str:
        return f"flashing at {self.baud} baud: {self.reason}"


def choose_flash_rate(bridge: UsbBridge | None, requested: int = AUTO_BAUD) -> FlashRate:
    """The rate for a board behind `bridge` (None: not known), honouring a rate set for the run."""
    if requested != AUTO_BAUD:
        limit = bridge.max_baud if bridge is not None else None
        if bridge is not None and limit is not None and requested > limit:
            return FlashRate(
                requested, f"set for this run, above the {bridge.label}'s {limit} (it may fall back)"
            )
        return FlashRate(requested, "set for this run")
    if bridge is None:
        return FlashRate(DEFAULT_BAUD, "USB bridge not known, so esptool's usual rate")
    if bridge.max_baud is None:
        return FlashRate(max(FLASH_BAUDS), f"{bridge.label}: {bridge.rate_source}")
    fitting = [baud for baud in FLASH_BAUDS if baud <= bridge.max_baud]
    return FlashRate(max(fitting, default=min(FLASH_BAUDS)), f"{bridge.label}: {bridge.rate_source}")


def rate_for_port(port: str, known: Sequence[PortInfo], requested: int = AUTO_BAUD) -> FlashRate:
    """`choose_flash_rate` for the port named `port` among the ports discovery found."""
    info = next((p for p in known if p.url == port), None)
    return choose_flash_rate(info.bridge if info is not None else None, requested)
