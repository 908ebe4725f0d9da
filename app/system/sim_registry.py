"""Where running virtual boards announce themselves so port discovery can list them.

`ql-station sim` writes one small JSON file per board into the data folder's `sim/registry`; port
discovery reads them and drops entries whose serving process is gone. A file, not a socket, because the
simulator and the station are separate processes that may start in either order.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from app.system.private_files import private_dir, write_private


@dataclass(frozen=True)
class VirtualBoardEntry:
    name: str  # e.g. "sim-1"; also the file stem
    url: str  # pyserial URL, e.g. "rfc2217://127.0.0.1:40123"
    chip: str  # ChipType value
    mac: str  # "aa:bb:cc:dd:ee:ff"
    pid: int  # process serving the board
    usb_vid: int | None = None  # the USB bridge the board pretends to sit behind (its flashing rate)
    usb_pid: int | None = None


def register(registry: Path, entry: VirtualBoardEntry) -> Path:
    """Announce `entry`; the folder is the user's alone (0700) and the file 0600, like all station data."""
    private_dir(registry, what="virtual board registry")
    path = registry / f"{entry.name}.json"
    write_private(path, json.dumps(asdict(entry)).encode("utf-8"), what="virtual board entry")
    return path


def unregister(registry: Path, name: str) -> None:
    (registry / f"{name}.json").unlink(missing_ok=True)


def list_live(registry: Path) -> list[VirtualBoardEntry]:
    """Entries whose process is still alive, sorted by name. Stale or unreadable files are skipped."""
    if not registry.is_dir():
        return []
    entries = []
    for path in sorted(registry.glob("*.json")):
        try:
            entry = VirtualBoardEntry(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            continue
        if _alive(entry.pid):
            entries.append(entry)
    return entries


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT on Windows
        return _alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _alive_windows(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined,unused-ignore]
    process_query_limited_information = 0x1000
    still_active = 259
    handle = kernel32.OpenProcess(process_query_limited_information, False, pid)
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        return bool(ok) and code.value == still_active
    finally:
        kernel32.CloseHandle(handle)
