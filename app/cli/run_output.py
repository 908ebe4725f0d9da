"""Plain output of `provision` / `reenrol`: the JSON event stream, or one line per finished step per port.

Used when the output is not a terminal (a pipe, a log file, CI) or with `--json`; on a terminal
app/cli/live_progress.py draws a live table instead. Both end with `write_summary`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TextIO

from app.cli.table import print_table
from app.provisioning.events import Event, LogEvent, Outcome, ResultEvent, StepEvent, StepStatus
from app.provisioning.supervisor import PortSummary


class JsonPrinter:
    """The event stream as is: one JSON object per line."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()

    def on_event(self, event: Event) -> None:
        line = event.to_json_line()
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()

    def on_finished(self, summary: PortSummary) -> None:
        pass

    def summary(self, summaries: Sequence[PortSummary]) -> None:
        pass


class HumanPrinter:
    """One line per finished step per port, then a table a person can read at a glance."""

    def __init__(self, out: TextIO, ports: Sequence[str]) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._width = max((len(p) for p in ports), default=0)

    def on_event(self, event: Event) -> None:
        if isinstance(event, StepEvent) and event.status is not StepStatus.STARTED:
            word = "ok" if event.status is StepStatus.PASSED else "FAILED"
            if event.facts.enrolled is False:
                word = "WARNING"  # passed, but the enrolment could not be confirmed
            self._line(event.port, f"{event.step.value:<7} {word:<6} {event.message}".rstrip())
        elif isinstance(event, ResultEvent) and event.outcome is Outcome.CANCELLED:
            self._line(event.port, f"cancelled: {event.message}")
        elif isinstance(event, LogEvent) and not event.port:
            self._line("station", event.text)

    def _line(self, port: str, text: str) -> None:
        with self._lock:
            self._out.write(f"{port:<{self._width}}  {text}\n")
            self._out.flush()

    def on_finished(self, summary: PortSummary) -> None:
        pass

    def summary(self, summaries: Sequence[PortSummary]) -> None:
        with self._lock:
            write_summary(self._out, summaries)


def write_summary(out: TextIO, summaries: Sequence[PortSummary]) -> None:
    """The closing table and one line per board that did not pass (both output modes)."""
    rows = [
        (s.port, _result(s), s.device_id or "-", f"{s.duration_s:.1f} s", _push_note(s)) for s in summaries
    ]
    out.write("\n")
    print_table(out, ["Port", "Result", "DeviceID", "Time", "Batch"], rows)
    passed = sum(1 for s in summaries if s.outcome is Outcome.PASS)
    out.write(f"{passed} of {len(summaries)} board(s) passed\n")
    for s in summaries:
        if s.outcome is not Outcome.PASS:
            out.write(f"{s.port}: {s.message}\n")
        elif s.warning:
            out.write(f"{s.port}: passed with a warning: {s.warning}\n")
    out.flush()


def _result(summary: PortSummary) -> str:
    word = summary.outcome.value.upper()
    return f"{word} (WARNING)" if summary.warning else word


def _push_note(summary: PortSummary) -> str:
    return summary.push_state.value if summary.device_id else "-"
