"""The live progress table: redrawn on a terminal, never chosen for a pipe, a file or --json."""

from __future__ import annotations

import io
import os
import pty

import pytest
from rich.console import Console

from app.cli.live_progress import LivePrinter, LiveRows, is_live_terminal
from app.cli.provision_cmd import choose_printer
from app.cli.run_output import HumanPrinter, JsonPrinter
from app.provisioning.events import Outcome, ProgressEvent, ResultEvent, Step, StepEvent, StepStatus
from app.provisioning.step_facts import StepFacts
from app.provisioning.supervisor import PortSummary

PORTS = ("rfc2217://127.0.0.1:4001", "rfc2217://127.0.0.1:4002")


def _progress(port: str, done: int, total: int = 1000) -> ProgressEvent:
    return ProgressEvent(
        port=port,
        step=Step.FLASH,
        index=2,
        count=3,
        name="ief",
        image_done=done,
        image_total=total,
        overall_done=done,
        overall_total=total,
    )


def test_rows_follow_steps_and_flash_percent() -> None:
    rows = LiveRows(PORTS)
    rows.on_event(StepEvent(port=PORTS[0], step=Step.FLASH, status=StepStatus.STARTED))
    rows.on_event(_progress(PORTS[0], 500))
    row = rows.row(PORTS[0])
    assert (row.step, row.percent, row.detail) == (Step.FLASH, 50, "ief (3 of 3)")
    assert rows.row(PORTS[1]).percent is None and rows.row(PORTS[1]).status == "waiting"
    rows.on_event(
        StepEvent(port=PORTS[0], step=Step.BOOT, status=StepStatus.FAILED, message="boot failed: x")
    )
    rows.on_event(
        ResultEvent(port=PORTS[0], outcome=Outcome.FAIL, duration_s=3.0, step=Step.BOOT, message="m")
    )
    assert rows.row(PORTS[0]).outcome is Outcome.FAIL


def test_a_pass_whose_enrolment_is_not_confirmed_reads_as_a_warning() -> None:
    rows = LiveRows(PORTS)
    offline = StepFacts(enrolled=False)
    for port, facts in ((PORTS[0], offline), (PORTS[1], StepFacts(enrolled=True, firmware="2.1.0"))):
        rows.on_event(StepEvent(port=port, step=Step.ENROL, status=StepStatus.PASSED, facts=facts))
        rows.on_event(ResultEvent(port=port, outcome=Outcome.PASS, duration_s=3.0, message="m"))
    shown = Console(file=io.StringIO(), width=120)
    shown.print(rows.table())
    lines = shown.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert any(PORTS[0] in line and "PASS (WARNING)" in line for line in lines)
    assert any(PORTS[1] in line and "PASS" in line and "WARNING" not in line for line in lines)


@pytest.mark.parametrize("total", [0, -5])
def test_a_progress_without_a_total_shows_no_percent(total: int) -> None:
    rows = LiveRows(PORTS)
    rows.on_event(_progress(PORTS[0], 10, total))
    assert rows.row(PORTS[0]).percent is None


def test_on_a_terminal_the_table_is_redrawn_in_place() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=140, color_system="standard")
    printer = LivePrinter(buffer, PORTS, console=console)
    try:
        printer.on_event(StepEvent(port=PORTS[0], step=Step.FLASH, status=StepStatus.STARTED))
        printer.on_event(_progress(PORTS[0], 250))
        printer.on_event(StepEvent(port=PORTS[1], step=Step.DETECT, status=StepStatus.STARTED))
        printer.on_event(
            StepEvent(
                port=PORTS[1], step=Step.DETECT, status=StepStatus.FAILED, message="detect failed: gone"
            )
        )
        printer.on_event(_progress(PORTS[0], 1000))
    finally:
        printer.summary(
            [
                PortSummary(PORTS[0], Outcome.PASS, 12.0, device_id="ab" * 32),
                PortSummary(PORTS[1], Outcome.FAIL, 1.0, message="detect failed: gone"),
            ]
        )
    out = buffer.getvalue()
    assert "\x1b[2K" in out or "\x1b[1A" in out  # cursor control: the table is rewritten, not appended
    assert "flash (3/6)" in out and "100%" in out
    assert "detect FAILED detect failed: gone" in out  # failures stay in the scrollback as lines
    assert "1 of 2 board(s) passed" in out


def test_pipes_files_and_json_get_plain_printers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(choose_printer(io.StringIO(), PORTS, json_mode=False), HumanPrinter)
    assert isinstance(choose_printer(io.StringIO(), PORTS, json_mode=True), JsonPrinter)
    with open(tmp_path / "log.txt", "w", encoding="utf-8") as file:
        assert not is_live_terminal(file)
        assert isinstance(choose_printer(file, PORTS, json_mode=False), HumanPrinter)


def test_a_terminal_gets_the_live_printer_unless_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", encoding="utf-8", closefd=True) as terminal:
            assert is_live_terminal(terminal)
            assert isinstance(choose_printer(terminal, PORTS, json_mode=True), JsonPrinter)
            printer = choose_printer(terminal, PORTS, json_mode=False)
            assert isinstance(printer, LivePrinter)
            printer.stop()
    finally:
        os.close(master)
    monkeypatch.setenv("TERM", "dumb")
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", encoding="utf-8", closefd=True) as terminal:
            assert not is_live_terminal(terminal)
    finally:
        os.close(master)
