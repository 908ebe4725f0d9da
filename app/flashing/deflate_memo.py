"""zlib streams of images made once by the station, given to esptool's `write_flash` in place of its own.

esptool 5.6's `write_flash` compresses each image it writes with `zlib.compress(image, 9)` in the process
that flashes: ~20 ms of CPU for a 900 KiB IEF, more for firmware that compresses well, in each of 64 port
workers for the same bytes. The station makes each image's stream once (app/provisioning/staged_images.py)
and the worker offers it here; esptool's call then gets it back when `image` is, byte for byte, the data
offered. Any other data (a run of changed sectors, a padded or re-headed image) is compressed as before.

The flasher stub inflates whatever stream it is sent, and esptool checks the flash's MD5 against the
uncompressed image afterwards, so a stream made by another zlib build is as good as esptool's own.
Guarded by version, like app/flashing/esptool_cpu_patch.py: a newer esptool is left alone.
"""

from __future__ import annotations

import threading
import zlib
from types import ModuleType
from typing import Any

from app.flashing.esptool_cpu_patch import major_minor

LEVEL = 9  # what esptool asks for; a stream made here at another level would be as valid, only longer
PATCHED_VERSIONS = ((5, 6),)


def deflate(data: bytes) -> bytes:
    """The stream esptool would make of `data`."""
    return zlib.compress(data, LEVEL)


class DeflateMemo:
    """Data and its zlib stream, offered before a write; `compress` answers from them when it can."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_size: dict[int, list[tuple[bytes, bytes]]] = {}
        self.hits = 0  # for tests and benchmarks: compressions answered from the memo

    def offer(self, data: bytes, deflated: bytes) -> None:
        with self._lock:
            known = self._by_size.setdefault(len(data), [])
            if not any(raw is data for raw, _ in known):
                known.append((data, deflated))

    def compress(self, data: Any, level: int = -1) -> bytes:
        with self._lock:
            known = list(self._by_size.get(len(data), ()))
        for raw, deflated in known:
            if raw == data:
                self.hits += 1
                return deflated
        return zlib.compress(data, level)


class _ZlibWithMemo:
    """What `esptool.cmds.zlib` becomes: zlib, with `compress` asking the memo first."""

    def __init__(self, memo: DeflateMemo) -> None:
        self._memo = memo

    def compress(self, data: Any, level: int = -1) -> bytes:
        return self._memo.compress(data, level)

    def __getattr__(self, name: str) -> Any:
        return getattr(zlib, name)


def install(cmds: ModuleType, esptool_version: str) -> DeflateMemo | None:
    """Route `cmds` (the `esptool.cmds` module) through a memo; None for an esptool we do not know."""
    current = getattr(cmds, "zlib", None)
    if isinstance(current, _ZlibWithMemo):
        return current._memo
    if current is not zlib or major_minor(esptool_version) not in PATCHED_VERSIONS:
        return None
    memo = DeflateMemo()
    cmds.zlib = _ZlibWithMemo(memo)  # type: ignore[attr-defined]
    return memo
