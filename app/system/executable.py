"""How to start this program again: the console executable of a frozen bundle, or `python -m app`.

Port workers, the fork server and the demo's simulator are subcommands of the one program. From a
source tree they run as `python -m app ...`. In the frozen bundle there are two executables side by
side: the windowed GUI ("QuarkLink Station") and the console CLI (`ql-station`). Children are always
started through the console one: on Windows a windowed program has no standard streams, so a child
started from it could not write its JSON events (ESPTOOL_NOTES.md, "Freezing with PyInstaller").
"""

from __future__ import annotations

import sys
from pathlib import Path

CONSOLE_NAME = "ql-station"


def is_frozen() -> bool:
    """True inside a PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False))


def console_executable() -> Path:
    """The bundle's console executable, beside the running one (which may be the windowed GUI)."""
    here = Path(sys.executable)
    console = here.with_name(CONSOLE_NAME + (".exe" if sys.platform == "win32" else ""))
    return console if console.is_file() else here


def station_command() -> list[str]:
    """The command that runs this program's CLI; append a subcommand and its arguments."""
    if is_frozen():
        return [str(console_executable())]
    return [sys.executable, "-m", "app"]
