"""Which USB-to-serial bridge (or ESP32 native USB) a port is, from its USB vendor/product id.

Operators plug in whatever dev boards they have. Naming the bridge ("CP2102N", "ESP32 USB-Serial/JTAG")
lets the station show a port as a likely ESP board, tells it how reset works (the native
USB-Serial/JTAG needs esptool's USB reset, a bridge uses the DTR/RTS auto-reset circuit), and how fast
it can flash: `max_baud` is the highest esptool rate (115200 ... 2000000) at or below the UART rate the
bridge's vendor datasheet gives, `rate_source` says where that figure comes from. The chip's own
USB-Serial/JTAG and USB-OTG CDC have no UART in between: the baud rate is ignored, so no limit (None).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ResetStyle(Enum):
    """How esptool gets this kind of port's chip into download mode."""

    BRIDGE = "bridge"  # DTR/RTS drive EN/IO0 through the board's auto-reset transistors
    USB_JTAG = "usb-jtag"  # the chip's own USB-Serial/JTAG peripheral
    USB_OTG = "usb-otg"  # ESP32-S2/S3 USB-OTG CDC (TinyUSB); resets are unreliable


@dataclass(frozen=True)
class UsbBridge:
    vendor: str
    product: str
    reset_style: ResetStyle = ResetStyle.BRIDGE
    max_baud: int | None = 921600  # None: a USB CDC port, no UART rate at all
    rate_source: str = "no datasheet figure known; the esptool default"

    @property
    def label(self) -> str:
        return f"{self.vendor} {self.product}"


ESPRESSIF_VID = 0x303A

_CP2102 = "Silicon Labs CP2102/9 datasheet: 300 bps to 1 Mbps (CP2102N: 3 Mbaud; same VID/PID, so 1 Mbps)"
_CH34X = "WCH CH340/CH341 datasheet: 50 bps to 2 Mbps"
_FT_R = "FTDI FT232R / FT-X datasheets: 300 baud to 3 Mbaud (2000000 is the highest esptool rate below)"
_FT_H = "FTDI FT2232H/FT4232H/FT232H datasheets: up to 12 Mbaud (2000000 is esptool's highest rate)"
_NATIVE = "the chip's own USB peripheral: no UART in between, the baud rate is ignored"

_KNOWN: dict[tuple[int, int], UsbBridge] = {
    (0x303A, 0x1001): UsbBridge(
        "Espressif", "USB-Serial/JTAG (ESP32-C3/S3/C6/H2)", ResetStyle.USB_JTAG, None, _NATIVE
    ),
    (0x303A, 0x0002): UsbBridge("Espressif", "ESP32-S2 USB-OTG CDC", ResetStyle.USB_OTG, None, _NATIVE),
    (0x303A, 0x0009): UsbBridge("Espressif", "ESP32-S3 USB-OTG CDC", ResetStyle.USB_OTG, None, _NATIVE),
    (0x10C4, 0xEA60): UsbBridge("Silicon Labs", "CP210x", max_baud=921600, rate_source=_CP2102),
    (0x10C4, 0xEA70): UsbBridge(
        "Silicon Labs",
        "CP2105 (dual)",
        max_baud=921600,
        rate_source="Silicon Labs CP2105 datasheet: ECI port up to 921600 baud (SCI port 2 Mbps)",
    ),
    (0x10C4, 0xEA71): UsbBridge(
        "Silicon Labs", "CP2108 (quad)", max_baud=2000000, rate_source="Silicon Labs CP2108 datasheet: 2 Mbps"
    ),
    (0x1A86, 0x7523): UsbBridge("WCH", "CH340", max_baud=2000000, rate_source=_CH34X),
    (0x1A86, 0x5523): UsbBridge("WCH", "CH341", max_baud=2000000, rate_source=_CH34X),
    (0x1A86, 0x55D3): UsbBridge(
        "WCH", "CH343", max_baud=2000000, rate_source="WCH CH343 datasheet: up to 6 Mbps"
    ),
    (0x1A86, 0x55D4): UsbBridge(
        "WCH", "CH9102", max_baud=2000000, rate_source="WCH CH9102 datasheet: up to 4 Mbps"
    ),
    (0x0403, 0x6001): UsbBridge("FTDI", "FT232R", max_baud=2000000, rate_source=_FT_R),
    (0x0403, 0x6010): UsbBridge("FTDI", "FT2232H (dual)", max_baud=2000000, rate_source=_FT_H),
    (0x0403, 0x6011): UsbBridge("FTDI", "FT4232H (quad)", max_baud=2000000, rate_source=_FT_H),
    (0x0403, 0x6014): UsbBridge("FTDI", "FT232H", max_baud=2000000, rate_source=_FT_H),
    (0x0403, 0x6015): UsbBridge("FTDI", "FT231X / FT-X", max_baud=2000000, rate_source=_FT_R),
    (0x067B, 0x2303): UsbBridge(
        "Prolific",
        "PL2303",
        max_baud=921600,
        rate_source="Prolific PL2303 datasheets: 1.2 Mbps (older parts) to 12 Mbps (PL2303HXD), one VID/PID",
    ),
}


def identify_usb(vid: int | None, pid: int | None) -> UsbBridge | None:
    """The bridge for a VID/PID pair; any other Espressif product id is still an Espressif chip."""
    if vid is None or pid is None:
        return None
    known = _KNOWN.get((vid, pid))
    if known is not None:
        return known
    if vid == ESPRESSIF_VID:
        return UsbBridge("Espressif", f"USB device {pid:04x}", ResetStyle.USB_OTG, None, _NATIVE)
    return None
