"""The engine's part of the self-check: pyserial's URL handlers and the station's own, imported by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.chips import ChipType
from app.provisioning import station_checks
from app.provisioning.station_checks import check_serial_url_handlers, station_self_check
from app.system.self_check import Status


def test_the_url_handlers_a_run_opens_are_importable() -> None:
    [check] = check_serial_url_handlers()
    assert check.status is Status.OK
    assert "station's quick client" in check.detail and "socket://" in check.detail


def test_a_missing_handler_fails_naming_the_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    lost = {"rfc2217:// (lost)": "app.provisioning.serial_urls.protocol_gone"}
    handlers = {**station_checks.URL_HANDLERS, **lost}
    monkeypatch.setattr(station_checks, "URL_HANDLERS", handlers)
    [check] = check_serial_url_handlers()
    assert check.status is Status.FAIL
    assert "rfc2217:// (lost)" in check.detail and "protocol_gone" in check.detail
    assert "Reinstall" in check.fix


def test_the_station_self_check_has_every_part(tmp_path: Path) -> None:
    report = station_self_check(tmp_path / "station")
    names = [check.name for check in report.checks]
    assert names[0] == "program"
    assert [f"{chip.display_name} support" for chip in ChipType] == names[1:5]
    assert "serial URL handlers" in names and "serial ports" in names
    assert report.ok
