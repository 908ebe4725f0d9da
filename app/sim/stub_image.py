"""What esptool's flasher stub is, byte for byte, so a virtual board can tell it from anything else in RAM.

A real chip runs whatever esptool uploads with MEM_BEGIN/MEM_DATA and starts at MEM_END's entry point; a
corrupted upload crashes it. A virtual board cannot run Xtensa or RISC-V code, so it checks instead that
the RAM it was given holds exactly the stub esptool ships for that chip (text and data segments at their
load addresses, and the stub's entry point), and only then behaves as the stub does. The stub images are
read from esptool's own JSON files (`esptool/targets/stub_flasher/<version>/<chip>.json`), found without
importing esptool, so the simulator keeps no copy of them and follows the installed esptool.
"""

from __future__ import annotations

import base64
import binascii
import functools
import importlib.util
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from app.domain.chips import ChipType

STUB_VERSIONS = ("2", "1")  # esptool's own search order (StubFlasher.STUB_SUBDIRS)


@dataclass(frozen=True)
class StubImage:
    """One stub build: its segments by load address, and where it starts."""

    version: str
    entry: int
    segments: tuple[tuple[int, bytes], ...]


def _stub_folder() -> Path | None:
    spec = importlib.util.find_spec("esptool")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "targets" / "stub_flasher"


@functools.cache
def stub_images(chip: ChipType) -> tuple[StubImage, ...]:
    """Every stub version esptool has for `chip` (none if esptool is not installed)."""
    folder = _stub_folder()
    if folder is None:
        return ()
    found = []
    for version in STUB_VERSIONS:
        path = folder / version / f"{chip.value}.json"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            segments = [(int(raw["text_start"]), base64.b64decode(raw["text"]))]
            if "data" in raw:
                segments.append((int(raw["data_start"]), base64.b64decode(raw["data"])))
            found.append(StubImage(version, int(raw["entry"]), tuple(segments)))
        except (OSError, ValueError, KeyError, TypeError, binascii.Error):
            continue
    return tuple(found)


def identify_stub(chip: ChipType, ram: Mapping[int, bytes], entry: int) -> StubImage | None:
    """The stub that `ram` (segments uploaded, by load address) and `entry` are, or None.

    Extra segments are allowed, the stub's own must be exact; so esptool's optional stub plugins (which
    patch the data segment) are not taken for the stub.
    """
    for image in stub_images(chip):
        if image.entry == entry and all(ram.get(addr) == data for addr, data in image.segments):
            return image
    return None
