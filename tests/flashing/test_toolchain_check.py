"""The self-check's esptool lines: real esptool and espefuse data, and a bundle that lost its stubs."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.chips import ChipType
from app.flashing.esptool_runtime import loader
from app.flashing.toolchain_check import check_chip_support
from app.system.self_check import Status


def test_every_supported_chip_has_its_stub_and_efuse_table() -> None:
    checks = check_chip_support()
    assert [check.name for check in checks] == [f"{chip.display_name} support" for chip in ChipType]
    for check in checks:
        assert check.status is Status.OK, check
        assert "stub flasher" in check.detail and "eFuse table" in check.detail


def test_missing_stub_files_fail_each_chip_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a frozen bundle built without esptool's data files looks like to esptool.
    monkeypatch.setattr(loader.StubFlasher, "STUB_DIR", str(tmp_path))
    checks = check_chip_support()
    assert len(checks) == len(ChipType)
    for check in checks:
        assert check.status is Status.FAIL
        assert "no stub flasher" in check.detail and "Flasher stub data is missing" in check.detail
        assert "Reinstall" in check.fix
