"""The one way the station imports esptool: our logger first, then esptool, then the CPU patch and
the memo of the station's ready-made zlib streams (app/flashing/deflate_memo.py).

Every module of app.flashing that needs esptool imports it from here, so the order the ESPTOOL_NOTES
demand (logger before import) holds however the program was started.
"""

from __future__ import annotations

from app.flashing.esptool_log import EventLogger, install_event_logger

EVENT_LOGGER: EventLogger = install_event_logger()

import esptool  # noqa: E402  (must follow the logger)
import esptool.cmds  # noqa: E402
import esptool.loader  # noqa: E402
import esptool.util  # noqa: E402

from app.flashing import deflate_memo  # noqa: E402
from app.flashing.esptool_cpu_patch import PatchStatus, apply_cpu_patch  # noqa: E402

ESPTOOL_VERSION: str = str(esptool.__version__)
CPU_PATCH: PatchStatus = apply_cpu_patch(esptool.loader, ESPTOOL_VERSION)
DEFLATED: deflate_memo.DeflateMemo | None = deflate_memo.install(esptool.cmds, ESPTOOL_VERSION)

cmds = esptool.cmds
loader = esptool.loader
FatalError: type[Exception] = esptool.util.FatalError
NotImplementedInROMError: type[Exception] = esptool.util.NotImplementedInROMError
UnsupportedCommandError: type[Exception] = esptool.util.UnsupportedCommandError

__all__ = [
    "CPU_PATCH",
    "DEFLATED",
    "ESPTOOL_VERSION",
    "EVENT_LOGGER",
    "FatalError",
    "NotImplementedInROMError",
    "UnsupportedCommandError",
    "cmds",
    "loader",
]
