"""LogRelay: log records from many threads reach the GUI thread in a few batches, in order."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from app.workers.log_relay import LogLine, LogRelay


@pytest.fixture
def logger() -> logging.Logger:
    log = logging.getLogger("app.test-log-relay")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    return log


@pytest.fixture
def relay(logger: logging.Logger) -> Iterator[LogRelay]:
    log_relay = LogRelay(flush_ms=50)
    log_relay.attach(logger)
    yield log_relay
    log_relay.detach()


def test_a_burst_from_threads_arrives_in_few_batches(
    qtbot: QtBot, relay: LogRelay, logger: logging.Logger
) -> None:
    batches: list[list[LogLine]] = []
    relay.lines_ready.connect(batches.append)

    def port(number: int) -> None:
        for step in range(250):
            logger.info("port %d step %d", number, step)

    threads = [threading.Thread(target=port, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    qtbot.waitUntil(lambda: sum(map(len, batches)) == 2_000, timeout=5_000)
    assert len(batches) <= 5, f"{len(batches)} emissions for one burst"
    lines = [line for batch in batches for line in batch]
    for number in range(8):
        steps = [int(x.message.split()[-1]) for x in lines if x.message.startswith(f"port {number} ")]
        assert steps == list(range(250)), "each thread's lines keep their order"
    assert lines[0].level_name == "INFO" and lines[0].logger == "app.test-log-relay"


def test_exceptions_keep_their_traceback(qtbot: QtBot, relay: LogRelay, logger: logging.Logger) -> None:
    with qtbot.waitSignal(relay.lines_ready, timeout=5_000) as ready:
        try:
            raise RuntimeError("flash failed")
        except RuntimeError:
            logger.exception("port 3 crashed")
    (line,) = ready.args[0]
    assert line.message.startswith("port 3 crashed\nTraceback")
    assert "RuntimeError: flash failed" in line.message


def test_an_overflowing_buffer_says_how_much_was_dropped(qtbot: QtBot, logger: logging.Logger) -> None:
    small = LogRelay(flush_ms=50, buffer=100)
    small.attach(logger)
    try:
        with qtbot.waitSignal(small.lines_ready, timeout=5_000) as ready:
            for number in range(150):
                logger.info("line %d", number)
        lines = ready.args[0]
        assert lines[0].message.startswith("50 log lines were dropped")
        assert [x.message for x in lines[1:]] == [f"line {n}" for n in range(50, 150)]
    finally:
        small.detach()


def test_after_detach_nothing_arrives(qtbot: QtBot, relay: LogRelay, logger: logging.Logger) -> None:
    relay.detach()
    with qtbot.assertNotEmitted(relay.lines_ready, wait=120):
        logger.info("after detach")
