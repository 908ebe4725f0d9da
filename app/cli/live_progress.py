"""Live per-port progress for `provision` / `reenrol` on a terminal; plain lines everywhere else.

A 1 MB IEF takes ~10 s at 921600 baud, so a command that printed only finished steps looked hung. On a
terminal `LivePrinter` keeps one row per port (step, a bar with the percent of the flash, what the step
last said) redrawn a few times a second by rich's `Live`, and prints each failure as a line above it, so
the scrollback keeps what went wrong. Piped output (a log file, CI) and `--json` stay line by line:
`choose_printer` decides from the stream itself (rich's terminal detection: a TTY, not TERM=dumb).

Events arrive from the supervisor's threads; the rows are guarded by one lock and rendered on rich's
refresh thread, so no event waits for drawing.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TextIO

from rich.console import Console, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from app.cli.run_output import write_summary
from app.provisioning.events import (
    Event,
    LogEvent,
    Outcome,
    ProgressEvent,
    ResultEvent,
    Step,
    StepEvent,
    StepStatus,
)
from app.provisioning.supervisor import PortSummary

REFRESH_PER_SECOND = 4
_STEPS = (Step.DETECT, Step.CHECK, Step.FLASH, Step.BOOT, Step.IEF, Step.PUSH)
_DETAIL_WIDTH = 60


class RunPrinter(Protocol):
    """What `run_jobs` prints through: the supervisor's listener plus the closing summary."""

    def on_event(self, event: Event) -> None: ...

    def on_finished(self, summary: PortSummary) -> None: ...

    def summary(self, summaries: Sequence[PortSummary]) -> None: ...


def is_live_terminal(out: TextIO) -> bool:
    """True when `out` is a terminal that can redraw (not a pipe, a file, or TERM=dumb)."""
    console = Console(file=out)
    return console.is_terminal and not console.is_dumb_terminal


@dataclass
class PortRow:
    """What one port's row shows."""

    port: str
    step: Step = Step.START
    status: str = "waiting"
    done: int = 0
    total: int = 0
    detail: str = ""
    outcome: Outcome | None = None
    warning: bool = False  # passed, but the enrolment could not be confirmed (offline)

    @property
    def percent(self) -> int | None:
        """Percent of the flash written, when a flash is under way or done."""
        if self.total <= 0:
            return None
        return min(100, self.done * 100 // self.total)


class LiveRows:
    """The rows, fed events (any thread) and rendered as a table (rich's refresh thread)."""

    def __init__(self, ports: Sequence[str]) -> None:
        self._lock = threading.Lock()
        self._rows = {port: PortRow(port) for port in ports}

    def row(self, port: str) -> PortRow:
        with self._lock:
            return self._rows.setdefault(port, PortRow(port))

    def on_event(self, event: Event) -> None:
        if not event.port:
            return
        with self._lock:
            row = self._rows.setdefault(event.port, PortRow(event.port))
            if isinstance(event, StepEvent):
                row.warning = row.warning or event.facts.enrolled is False
                row.step = event.step
                row.status = event.status.value
                if event.message:
                    row.detail = event.message
                elif event.status is StepStatus.STARTED:
                    row.detail = ""
            elif isinstance(event, ProgressEvent):
                row.step = event.step
                row.done, row.total = event.overall_done, event.overall_total
                row.detail = f"{event.name} ({event.index + 1} of {event.count})"
            elif isinstance(event, ResultEvent):
                row.outcome = event.outcome
                row.step = event.step
                row.detail = event.message

    def table(self) -> Table:
        table = Table(expand=False, show_edge=False, pad_edge=False)
        for name in ("Port", "Step", "Progress", "Now"):
            table.add_column(name, no_wrap=True)
        with self._lock:
            rows = list(self._rows.values())
        for row in rows:
            table.add_row(row.port, _step_cell(row), _progress_cell(row), _detail_cell(row))
        return table


def _step_cell(row: PortRow) -> Text:
    if row.outcome is Outcome.PASS and row.warning:
        return Text("PASS (WARNING)", style="bold yellow")
    if row.outcome is not None:
        style = {"pass": "bold green", "fail": "bold red", "cancelled": "yellow"}[row.outcome.value]
        return Text(row.outcome.value.upper(), style=style)
    if row.step in _STEPS:
        return Text(f"{row.step.value} ({_STEPS.index(row.step) + 1}/{len(_STEPS)})")
    return Text(row.step.value)


def _progress_cell(row: PortRow) -> RenderableType:
    percent = row.percent
    if percent is None:
        return Text("")
    grid = Table.grid(padding=(0, 1))
    grid.add_row(ProgressBar(total=100, completed=percent, width=20), Text(f"{percent:3d}%"))
    return grid


def _detail_cell(row: PortRow) -> Text:
    text = row.detail.replace("\n", " ")
    if len(text) > _DETAIL_WIDTH:
        text = text[: _DETAIL_WIDTH - 1] + "…"
    return Text(text, style="red" if row.status == "failed" else "")


class LivePrinter:
    """On a terminal: the live table, failures as lines above it, then the same summary as plain mode."""

    def __init__(self, out: TextIO, ports: Sequence[str], console: Console | None = None) -> None:
        self._out = out
        self._console = console or Console(file=out)
        self.rows = LiveRows(ports)
        self._live = Live(
            get_renderable=self.rows.table,
            console=self._console,
            refresh_per_second=REFRESH_PER_SECOND,
            auto_refresh=True,
            transient=False,
        )
        self._live.start()
        self._stopped = False

    def on_event(self, event: Event) -> None:
        self.rows.on_event(event)
        if isinstance(event, StepEvent) and event.status is StepStatus.FAILED:
            self._console.print(Text(f"{event.port}  {event.step.value} FAILED {event.message}", style="red"))
        elif isinstance(event, LogEvent) and not event.port:
            self._console.print(Text(f"station  {event.text}"))

    def on_finished(self, summary: PortSummary) -> None:
        pass

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._live.refresh()
            self._live.stop()

    def summary(self, summaries: Sequence[PortSummary]) -> None:
        self.stop()
        write_summary(self._out, summaries)
