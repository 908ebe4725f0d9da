"""pyserial URL handlers the port worker puts ahead of pyserial's own (see `install`).

pyserial looks for `<package>.protocol_<scheme>` in each package of `serial.protocol_handler_packages`,
in order (its documented extension point), so a package listed first replaces a built-in handler for
every `serial_for_url` call in the process, esptool's included.
"""

from __future__ import annotations

import serial

PACKAGE = __name__


def install() -> None:
    """Make this package's handlers win for this process (idempotent)."""
    packages: list[str] = serial.protocol_handler_packages
    if PACKAGE in packages:
        packages.remove(PACKAGE)
    packages.insert(0, PACKAGE)
