"""USB VID/PID identification of the bridges and native USB of ESP32 boards."""

from __future__ import annotations

import pytest

from app.ports.usb_ids import ResetStyle, identify_usb


@pytest.mark.parametrize(
    ("vid", "pid", "vendor", "product", "style"),
    [
        (0x303A, 0x1001, "Espressif", "USB-Serial/JTAG", ResetStyle.USB_JTAG),
        (0x10C4, 0xEA60, "Silicon Labs", "CP210x", ResetStyle.BRIDGE),
        (0x1A86, 0x7523, "WCH", "CH340", ResetStyle.BRIDGE),
        (0x1A86, 0x55D4, "WCH", "CH9102", ResetStyle.BRIDGE),
        (0x0403, 0x6001, "FTDI", "FT232R", ResetStyle.BRIDGE),
        (0x0403, 0x6010, "FTDI", "FT2232H", ResetStyle.BRIDGE),
        (0x0403, 0x6015, "FTDI", "FT231X", ResetStyle.BRIDGE),
        (0x303A, 0x0002, "Espressif", "ESP32-S2 USB-OTG", ResetStyle.USB_OTG),
    ],
)
def test_known_ids(vid: int, pid: int, vendor: str, product: str, style: ResetStyle) -> None:
    bridge = identify_usb(vid, pid)
    assert bridge is not None
    assert bridge.vendor == vendor
    assert product in bridge.product
    assert bridge.reset_style is style
    assert bridge.label.startswith(vendor)


def test_other_espressif_product_is_still_espressif() -> None:
    bridge = identify_usb(0x303A, 0x4001)
    assert bridge is not None
    assert bridge.vendor == "Espressif"
    assert "4001" in bridge.product


@pytest.mark.parametrize(("vid", "pid"), [(0x046D, 0xC52B), (None, None), (0x10C4, None)])
def test_unknown_or_missing_ids(vid: int | None, pid: int | None) -> None:
    assert identify_usb(vid, pid) is None
