"""Stop esptool 5.6 formatting hex dumps nobody reads.

esptool's loader builds trace messages as f-strings around `HexFormatter(data)` in `write()`,
`command()` and `slip_reader()`. The formatter was meant to be lazy, but an f-string formats it at
once, tracing on or off: about 2.5 s of CPU per MiB flashed, enough for three parallel ports to stall
the GUI. The station never enables esptool tracing, so inside `esptool.loader` (and nowhere else) we
swap the class for one whose `format()` is a constant. `str()` still gives the full dump.
Guarded by version: a newer esptool may have fixed this or moved the code, so it is left alone.

The same version also checksums every block it sends (`ESPLoader.checksum`, the XOR the ROM checks) in
a Python loop over its bytes: ~10 ms of CPU per 800 KiB image, per board. The checksum is the same XOR
done on one big integer (app.flashing.esp_image.xor_of_bytes), for bytes-like data; anything else goes
to esptool's own loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType

from app.flashing.esp_image import xor_of_bytes

PATCHED_VERSIONS = ((5, 6),)
PLACEHOLDER = "<hex dump omitted: tracing is off>"


@dataclass(frozen=True)
class PatchStatus:
    active: bool
    reason: str


def apply_cpu_patch(loader: ModuleType, esptool_version: str) -> PatchStatus:
    """Patch `loader` (the `esptool.loader` module) if `esptool_version` is one we know. Idempotent."""
    original = getattr(loader, "HexFormatter", None)
    if original is None:
        return PatchStatus(False, "esptool.loader has no HexFormatter; nothing to patch")
    if getattr(original, "_station_quiet", False):
        return PatchStatus(True, "already patched")
    if major_minor(esptool_version) not in PATCHED_VERSIONS:
        return PatchStatus(False, f"esptool {esptool_version} is not a version this patch was made for")

    class QuietHexFormatter(original):  # type: ignore[misc,valid-type]
        """HexFormatter whose f-string formatting costs nothing (see module docstring)."""

        _station_quiet = True

        def __format__(self, format_spec: str) -> str:
            return PLACEHOLDER

    setattr(loader, "HexFormatter", QuietHexFormatter)  # noqa: B010  (a module attribute)
    esp_loader = getattr(loader, "ESPLoader", None)
    if esp_loader is not None and "checksum" in vars(esp_loader):
        esp_loader.checksum = staticmethod(quick_checksum(esp_loader.checksum))
    return PatchStatus(True, f"HexFormatter neutralised, block checksums quick, in esptool {esptool_version}")


def quick_checksum(original: Callable[..., int]) -> Callable[..., int]:
    """esptool's `checksum(data, state=0xEF)`, computed without a Python loop over bytes-like data."""

    def checksum(data: Iterable[int], state: int = 0xEF) -> int:
        if isinstance(data, bytes | bytearray | memoryview):
            return state ^ xor_of_bytes(bytes(data))
        return original(data, state)

    checksum.station_original = original  # type: ignore[attr-defined]
    return checksum


def cpu_patch_active(loader: ModuleType) -> bool:
    return bool(getattr(getattr(loader, "HexFormatter", None), "_station_quiet", False))


def major_minor(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None
