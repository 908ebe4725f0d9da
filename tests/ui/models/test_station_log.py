"""The bounded station log model and its level/pattern filter."""

from __future__ import annotations

import logging

from app.ui.models.station_log import StationLogFilter, StationLogModel
from app.workers.log_relay import LogLine


def line(number: int, level: int = logging.INFO, logger: str = "app.test") -> LogLine:
    return LogLine(1_700_000_000.0 + number, level, logger, f"message {number}")


def test_the_model_keeps_only_the_newest_lines(qtbot) -> None:  # type: ignore[no-untyped-def]
    model = StationLogModel(capacity=100)
    model.append_lines([line(n) for n in range(80)])
    model.append_lines([line(n) for n in range(80, 150)])
    assert model.rowCount() == 100
    assert model.line(0).message == "message 50"
    assert model.line(99).message == "message 149"
    model.append_lines([line(n) for n in range(1000, 1250)])
    assert model.rowCount() == 100
    assert model.line(0).message == "message 1150"


def test_rows_show_time_level_source_and_the_first_line_of_the_message(qtbot) -> None:  # type: ignore[no-untyped-def]
    model = StationLogModel()
    model.append_lines([LogLine(1_700_000_000.25, logging.ERROR, "app.ports", "board gone\nTraceback ...")])
    values = [model.index(0, c).data() for c in range(4)]
    assert values[0].endswith(".250")
    assert values[1:] == ["ERROR", "app.ports", "board gone"]
    assert model.index(0, 3).data(3) == "board gone\nTraceback ..."  # ToolTipRole holds all of it


def test_the_filter_combines_level_and_pattern(qtbot) -> None:  # type: ignore[no-untyped-def]
    model = StationLogModel()
    model.append_lines(
        [line(1, logging.DEBUG), line(2, logging.WARNING, "app.ports.hotplug"), line(3, logging.ERROR)]
    )
    proxy = StationLogFilter()
    proxy.setSourceModel(model)
    assert proxy.rowCount() == 3
    proxy.set_min_level(logging.WARNING)
    assert proxy.rowCount() == 2
    assert proxy.set_pattern("HOTPLUG") == ""
    assert proxy.rowCount() == 1
    assert proxy.set_pattern("[").startswith("not a valid pattern")
    assert proxy.rowCount() == 1
    assert proxy.set_pattern("") == ""
    assert proxy.rowCount() == 2
