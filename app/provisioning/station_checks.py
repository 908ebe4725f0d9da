"""Everything `ql-station self-check` and the Settings page's button check, composed in one place.

The system checks (keyring, CA bundle, Qt, data folder, ports) live in `app.system.self_check`; the ones
that need esptool or the engine's own parts are added here, where both layers can be reached.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from app.provisioning import serial_urls
from app.system.self_check import Check, SelfCheckReport, Status, run_self_check

# Serial URL schemes a run opens, and the modules pyserial imports by name for them: its own, and the
# station's quick RFC 2217 client that port workers put first (app/provisioning/serial_urls).
URL_HANDLERS = {
    "rfc2217:// (station's quick client)": f"{serial_urls.PACKAGE}.protocol_rfc2217",
    "rfc2217:// (pyserial)": "serial.urlhandler.protocol_rfc2217",
    "socket://": "serial.urlhandler.protocol_socket",
}


def check_serial_url_handlers() -> list[Check]:
    """The handlers are imported by name at run time, so a bundle can lack one and import fine."""
    missing = []
    for scheme, module in URL_HANDLERS.items():
        try:
            importlib.import_module(module)
        except ImportError as exc:
            missing.append(f"{scheme}: {exc}")
    if missing:
        return [
            Check(
                "serial URL handlers",
                Status.FAIL,
                "; ".join(missing),
                "Reinstall the station (a frozen bundle must carry these modules).",
            )
        ]
    return [Check("serial URL handlers", Status.OK, ", ".join(URL_HANDLERS))]


def station_self_check(data_dir: Path) -> SelfCheckReport:
    """Every check, for the CLI and the window alike."""
    from app.flashing.toolchain_check import check_chip_support  # loads esptool: only when asked

    return run_self_check(data_dir, extra=[check_chip_support, check_serial_url_handlers])
