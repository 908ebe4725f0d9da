"""The Logs page: instance activity (searched by the instance) beside the station log (filtered here)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from app.instance.local.instance import LocalInstance
from app.ui.pages.context import PageContext
from app.ui.pages.logs import LogsPage
from app.workers.log_relay import LogRelay
from tests.ui.pool_drain import drain_pool


@pytest.fixture
def relay(context: PageContext) -> Iterator[LogRelay]:
    log_relay = LogRelay(flush_ms=10)
    log_relay.lines_ready.connect(context.station_log.append_lines)
    logger = logging.getLogger("app.test-logs-page")
    logger.setLevel(logging.DEBUG)
    log_relay.attach(logger)
    yield log_relay
    log_relay.detach()


@pytest.fixture
def page(qtbot: QtBot, context: PageContext, instance: LocalInstance, relay: LogRelay) -> Iterator[LogsPage]:
    for number in range(30):
        instance.create_batch(f"batch-{number:02d}")
    instance.create_batch("needle-batch")
    logs = LogsPage(context)
    qtbot.addWidget(logs)
    logs.resize(1100, 700)
    with qtbot.waitSignal(logs.activity_model.loaded, timeout=10_000):
        logs.show()
    yield logs
    drain_pool()


def shown_messages(page: LogsPage) -> list[str]:
    proxy = page.station_filter
    return [proxy.index(r, 3).data() for r in range(proxy.rowCount())]


def test_activity_is_listed_newest_first_and_searched_by_the_instance(qtbot: QtBot, page: LogsPage) -> None:
    model = page.activity_model
    assert model.entry(0).target == "needle-batch"
    assert page.activity_count.text() == "32 entries"  # instance.create + 31 batches
    with qtbot.waitSignal(model.loaded, timeout=10_000):
        qtbot.keyClicks(page.activity_search, "needle")
    assert model.rowCount() == 1
    assert page.activity_count.text() == "1 entry"


def test_station_log_filters_by_level_and_pattern(qtbot: QtBot, page: LogsPage) -> None:
    logger = logging.getLogger("app.test-logs-page")
    with qtbot.waitSignal(page.context.station_log.rowsInserted, timeout=10_000):
        logger.debug("port /dev/ttyUSB0 probing")
        logger.info("port /dev/ttyUSB0 flashed in 12.3 s")
        logger.warning("port /dev/ttyUSB1 slow to answer")
        logger.error("port /dev/ttyUSB2 vanished mid-flash")
    assert shown_messages(page) == [
        "port /dev/ttyUSB0 flashed in 12.3 s",
        "port /dev/ttyUSB1 slow to answer",
        "port /dev/ttyUSB2 vanished mid-flash",
    ], "info and up by default"
    page.level.setCurrentIndex(page.level.findText("Warnings and errors"))
    assert len(shown_messages(page)) == 2
    page.level.setCurrentIndex(page.level.findText("Debug and up"))
    qtbot.keyClicks(page.pattern, r"ttyUSB[02]")
    assert shown_messages(page) == [
        "port /dev/ttyUSB0 probing",
        "port /dev/ttyUSB0 flashed in 12.3 s",
        "port /dev/ttyUSB2 vanished mid-flash",
    ]


def test_an_invalid_pattern_is_explained_and_keeps_the_last_filter(qtbot: QtBot, page: LogsPage) -> None:
    logger = logging.getLogger("app.test-logs-page")
    with qtbot.waitSignal(page.context.station_log.rowsInserted, timeout=10_000):
        logger.info("alpha")
        logger.info("beta")
    qtbot.keyClicks(page.pattern, "alp")
    assert shown_messages(page) == ["alpha"]
    qtbot.keyClicks(page.pattern, "(")
    assert page.pattern_problem.isVisible()
    assert page.pattern_problem.text().startswith("not a valid pattern: missing )")
    assert shown_messages(page) == ["alpha"]
