"""The esptool logger: esptool's output becomes typed events, and nothing reaches stdout."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from app.flashing.esptool_log import EventLogger
from app.flashing.flash_events import FlashEvent, FlashLog, LogLevel

from .conftest import MockPeer

REPO = Path(__file__).resolve().parents[2]


def _run_fresh(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_logger_installed_before_esptool_import_in_a_fresh_process() -> None:
    result = _run_fresh(
        """
        import sys
        assert "esptool" not in sys.modules
        from app.flashing import board_connection  # noqa: F401
        from app.flashing.esptool_runtime import EVENT_LOGGER
        from esp_pylib.logger import EspLog
        import esptool.cmds
        bound = esptool.cmds._warn_nand_experimental.print_callback.__self__
        print(EspLog.instance is EVENT_LOGGER, bound is EVENT_LOGGER)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]


def test_flashing_writes_nothing_to_stdout(mock_c3: MockPeer) -> None:
    result = _run_fresh(
        f"""
        import json
        from app.domain.kinds import ImageKind
        from app.domain.records import FlashImage
        from app.flashing.board_connection import BoardConnection, ResetMode
        from app.flashing.flash_events import FlashLog, FlashProgress
        events = []
        with BoardConnection.open({mock_c3.url!r}, reset=ResetMode.NO_RESET, sink=events.append) as board:
            board.identify()
            board.run_stub()
            result = board.write_images([FlashImage(0x10000, ImageKind.IEF, "ief", bytes(range(256)) * 256)])
        logs = sum(isinstance(e, FlashLog) for e in events)
        progress = sum(isinstance(e, FlashProgress) for e in events)
        print(json.dumps({{"logs": logs, "progress": progress, "verified": result.verified}}))
        """
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout  # esptool printed nothing of its own
    summary = json.loads(lines[0])
    assert summary["verified"] == [True]
    assert summary["logs"] > 5
    assert summary["progress"] >= 1


def test_partial_prints_are_joined_into_lines() -> None:
    logger = EventLogger()
    events: list[FlashEvent] = []
    with logger.routed(events.append):
        logger.print("Connecting", end="")
        logger.print(".", end="")
        logger.print(".", end="")
        logger.print()
        logger.print("Chip is", "ESP32-C3")
        logger.print("Waiting", end="")
    assert events == [
        FlashLog(LogLevel.INFO, "Connecting.."),
        FlashLog(LogLevel.INFO, "Chip is ESP32-C3"),
        FlashLog(LogLevel.INFO, "Waiting"),  # flushed when the routing ends
    ]


def test_levels_and_markup_escapes() -> None:
    logger = EventLogger()
    events: list[FlashEvent] = []
    with logger.routed(events.append):
        logger.warn("Flash", "size", suggestion="use 4MB")
        logger.warning("old alias")
        logger.err("bad")
        logger.note("a note")
        logger.debug("trace", "data")
        logger.print("File \\[bootloader.bin] written")
    assert events == [
        FlashLog(LogLevel.WARNING, "Flash size (use 4MB)"),
        FlashLog(LogLevel.WARNING, "old alias"),
        FlashLog(LogLevel.ERROR, "bad"),
        FlashLog(LogLevel.NOTE, "a note"),
        FlashLog(LogLevel.DEBUG, "tracedata"),
        FlashLog(LogLevel.INFO, "File [bootloader.bin] written"),
    ]


def test_progress_goes_to_the_hook_and_routing_restores() -> None:
    logger = EventLogger()
    outer: list[FlashEvent] = []
    inner: list[FlashEvent] = []
    seen: list[tuple[int, int]] = []
    with logger.routed(outer.append):
        with logger.routed(inner.append, lambda cur, total: seen.append((cur, total))):
            logger.progress_bar(16384, 65536, prefix="Writing at 0x00014000 ")
            logger.print("inside")
        logger.progress_bar(1, 2)  # no hook outside: ignored
        logger.print("outside")
    assert seen == [(16384, 65536)]
    assert inner == [FlashLog(LogLevel.INFO, "inside")]
    assert outer == [FlashLog(LogLevel.INFO, "outside")]


def test_esptools_own_progress_task_drives_the_hook() -> None:
    logger = EventLogger()
    seen: list[tuple[int, int]] = []
    hook = lambda cur, total: seen.append((cur, total))  # noqa: E731
    with logger.routed(lambda _e: None, hook), logger.progress(total=40000, unit="B") as task:
        task.update(advance=16384)
        task.update(advance=16384)
        task.update(advance=7232)
    assert seen == [(16384, 40000), (32768, 40000), (40000, 40000)]
