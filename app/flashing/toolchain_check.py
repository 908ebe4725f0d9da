"""The self-check's esptool part: for every chip the station supports, the stub flasher and eFuse table load.

Both are data files esptool and espefuse find through `__file__` at run time (ESPTOOL_NOTES.md,
"Freezing with PyInstaller"): a bundle built without them imports fine and fails only when a board is
being flashed. Loading them here, with no board, turns that into a self-check line.
"""

from __future__ import annotations

from app.domain.chips import ChipType
from app.flashing.esptool_runtime import ESPTOOL_VERSION, FatalError, loader
from app.system.self_check import Check, Status


def check_chip_support() -> list[Check]:
    """One line per chip: esptool's stub flasher and espefuse's eFuse table for it."""
    import espefuse.efuse_interface as espefuse  # after esptool_runtime: our logger is installed
    from esptool.targets import CHIP_DEFS

    checks = []
    for chip in ChipType:
        name = f"{chip.display_name} support"
        try:
            stub = loader.StubFlasher(CHIP_DEFS[chip.profile.esptool_name])
        except (FatalError, OSError, KeyError, ValueError) as exc:
            checks.append(_missing(name, f"esptool {ESPTOOL_VERSION} has no stub flasher for it: {exc}"))
            continue
        try:
            with espefuse.init_commands(chip=chip.profile.esptool_name, virt=True, do_not_confirm=True) as ef:
                fields = len(ef.efuses.efuses)
        except Exception as exc:  # espefuse raises bare Exceptions and yaml errors alike
            checks.append(_missing(name, f"espefuse cannot load its eFuse table: {exc}"))
            continue
        checks.append(
            Check(
                name,
                Status.OK,
                f"esptool {ESPTOOL_VERSION} stub flasher ({len(stub.text) + len(stub.data or b'')} bytes), "
                f"eFuse table ({fields} fields)",
            )
        )
    return checks


def _missing(name: str, detail: str) -> Check:
    return Check(
        name,
        Status.FAIL,
        detail,
        "Reinstall the station (a frozen bundle must carry esptool's and espefuse's data files).",
    )
