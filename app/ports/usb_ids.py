"""Which USB-to-serial bridge (or ESP32 native USB) a port is, from its USB vendor/product id.

Operators plug in whatever dev boards they have. Naming the bridge ("CP2102N", "ESP32 USB-Serial/JTAG")
lets the station show a port as a likely ESP board, and tells it how reset works: the native
USB-Serial/JTAG needs esptool's USB reset, a bridge uses the DTR/RTS auto-reset circuit.
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

    @property
    def label(self) -> str:
        return f"{self.vendor} {self.product}"


ESPRESSIF_VID = 0x303A

_KNOWN: dict[tuple[int, int], UsbBridge] = {
    (0x303A, 0x1001): UsbBridge("Espressif", "USB-Serial/JTAG (ESP32-C3/S3/C6/H2)", ResetStyle.USB_JTAG),
    (0x303A, 0x0002): UsbBridge("Espressif", "ESP32-S2 USB-OTG CDC", ResetStyle.USB_OTG),
    (0x303A, 0x0009): UsbBridge("Espressif", "ESP32-S3 USB-OTG CDC", ResetStyle.USB_OTG),
    (0x10C4, 0xEA60): UsbBridge("Silicon Labs", "CP210x"),
    (0x10C4, 0xEA70): UsbBridge("Silicon Labs", "CP2105 (dual)"),
    (0x10C4, 0xEA71): UsbBridge("Silicon Labs", "CP2108 (quad)"),
    (0x1A86, 0x7523): UsbBridge("WCH", "CH340"),
    (0x1A86, 0x5523): UsbBridge("WCH", "CH341"),
    (0x1A86, 0x55D3): UsbBridge("WCH", "CH343"),
    (0x1A86, 0x55D4): UsbBridge("WCH", "CH9102"),
    (0x0403, 0x6001): UsbBridge("FTDI", "FT232R"),
    (0x0403, 0x6010): UsbBridge("FTDI", "FT2232H (dual)"),
    (0x0403, 0x6011): UsbBridge("FTDI", "FT4232H (quad)"),
    (0x0403, 0x6014): UsbBridge("FTDI", "FT232H"),
    (0x0403, 0x6015): UsbBridge("FTDI", "FT231X / FT-X"),
    (0x067B, 0x2303): UsbBridge("Prolific", "PL2303"),
}


def identify_usb(vid: int | None, pid: int | None) -> UsbBridge | None:
    """The bridge for a VID/PID pair; any other Espressif product id is still an Espressif chip."""
    if vid is None or pid is None:
        return None
    known = _KNOWN.get((vid, pid))
    if known is not None:
        return known
    if vid == ESPRESSIF_VID:
        return UsbBridge("Espressif", f"USB device {pid:04x}", ResetStyle.USB_OTG)
    return None
