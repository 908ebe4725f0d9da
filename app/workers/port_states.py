"""What each port is doing, kept as plain data and handed to the window in coalesced snapshots.

The supervisor calls `on_event` from one reader thread per port, as fast as its worker writes. This
class only folds each event into that port's state under a lock and remembers the port as changed; the
station worker's timer then takes every changed port's snapshot at once (`take_changes`). Progress is
coalesced to the latest value, but nothing that matters is lost between two snapshots: the step, the
DeviceID, the errors and the result are part of the state, log and console lines accumulate (bounded)
until taken, and each finished run is queued as a `PortResult` of its own.

A snapshot is typed state only (a state, a step, how far along, what is being flashed); the words a
tile shows for it, and how much of its bar each step fills, are the window's (app/ui/widgets/
port_wording.py). The port's log lines are written here, as the engine's own log lines are.

No Qt here: the transitions are tested with plain events (tests/workers/test_port_states.py) and the
coalescing by firing events from plain threads.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from app.provisioning.events import (
    DeviceIdEvent,
    ErrorEvent,
    Event,
    LogEvent,
    LogSource,
    Outcome,
    ProgressEvent,
    ResultEvent,
    Step,
    StepEvent,
    StepStatus,
)
from app.provisioning.job import Redactor
from app.provisioning.pass_warning import PassWarning, after_enrolment, pass_warning
from app.provisioning.step_facts import StepFacts

MAX_PENDING_LINES = 2_000  # per port between two snapshots; more means the window cannot keep up

_STEP_ORDER = {step: index for index, step in enumerate(Step)}  # the pipeline's order


class PortState(Enum):
    """What a tile shows in large letters. READY: nothing has run on this port in this session."""

    READY = "ready"
    PREPARING = "preparing"  # the job is being built (the instance signs the images)
    RUNNING = "running"
    PASS = "pass"  # noqa: S105
    WARNING = "warning"  # passed, but the board may not do what was asked (`PortSnapshot.warning` says why)
    FAIL = "fail"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (PortState.PASS, PortState.WARNING, PortState.FAIL, PortState.CANCELLED)

    @property
    def passed(self) -> bool:
        return self in (PortState.PASS, PortState.WARNING)

    @property
    def busy(self) -> bool:
        return self in (PortState.PREPARING, PortState.RUNNING)


@dataclass(frozen=True, order=True)
class Reached:
    """How far a run got: into `step`, `done` (0..1) of the way through it. Only ever moves forward."""

    order: int
    done: float
    step: Step = field(compare=False)

    @classmethod
    def at(cls, step: Step, done: float = 0.0) -> Reached:
        return cls(_STEP_ORDER[step], max(0.0, min(1.0, done)), step)


@dataclass(frozen=True)
class ImageProgress:
    """The image being written now: `index` of `count` (from 0); `done` (0..1) of all the board's images."""

    name: str
    index: int
    count: int
    done: float


_OUTCOME_STATE = {
    Outcome.PASS: PortState.PASS,
    Outcome.FAIL: PortState.FAIL,
    Outcome.CANCELLED: PortState.CANCELLED,
}


@dataclass(frozen=True)
class PortSnapshot:
    """One port as the window should show it now. `new_log`/`new_console` are the lines since the last one."""

    port: str
    run: int
    state: PortState
    step: Step | None  # the step under way (the last one started)
    reached: Reached | None  # how far the run got, for the progress bar
    image: ImageProgress | None  # set while an image is written, until the next step starts
    stopped_at: Step | None  # where a finished run ended (its result's step)
    refused: bool  # the run was refused before its worker started (`message` says why)
    started_mono: float | None
    duration_s: float | None
    chip: str
    mac: str
    device_id: str
    message: str
    errors: tuple[str, ...]
    new_log: tuple[str, ...]
    new_console: tuple[str, ...]
    dropped_lines: int = 0
    warning: PassWarning | None = None  # set from the IEF step on; a passed run with one is WARNING
    release: bool = False  # the run writes a release bootloader (its first boot burns eFuses for good)
    enrolled_firmware: str | None = None  # the enrol step saw the board Enrolled, running this firmware


@dataclass(frozen=True)
class PortResult:
    """A finished run, queued on its own so a result is never hidden by a later snapshot."""

    port: str
    run: int
    outcome: Outcome
    duration_s: float
    device_id: str
    message: str
    chip: str
    warning: PassWarning | None = None


@dataclass
class _Port:
    port: str
    run: int = 0
    state: PortState = PortState.READY
    step: Step | None = None
    reached: Reached | None = None
    image: ImageProgress | None = None
    stopped_at: Step | None = None
    refused: bool = False
    started_mono: float | None = None
    duration_s: float | None = None
    chip: str = ""
    mac: str = ""
    device_id: str = ""
    message: str = ""
    errors: list[str] = field(default_factory=list)
    log: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_PENDING_LINES))
    console: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_PENDING_LINES))
    dropped: int = 0
    warning: PassWarning | None = None
    release: bool = False
    enrolled_firmware: str | None = None

    def snapshot(self, take_lines: bool = True) -> PortSnapshot:
        snap = PortSnapshot(
            port=self.port,
            run=self.run,
            state=self.state,
            step=self.step,
            reached=self.reached,
            image=self.image,
            stopped_at=self.stopped_at,
            refused=self.refused,
            started_mono=self.started_mono,
            duration_s=self.duration_s,
            chip=self.chip,
            mac=self.mac,
            device_id=self.device_id,
            message=self.message,
            errors=tuple(self.errors),
            new_log=tuple(self.log),
            new_console=tuple(self.console),
            dropped_lines=self.dropped,
            warning=self.warning,
            release=self.release,
            enrolled_firmware=self.enrolled_firmware,
        )
        if take_lines:
            self.log.clear()
            self.console.clear()
            self.dropped = 0
        return snap

    def reach(self, step: Step, done: float = 0.0) -> None:
        reached = Reached.at(step, done)
        if self.reached is None or reached > self.reached:
            self.reached = reached

    def add_line(self, lines: deque[str], text: str) -> None:
        if len(lines) == lines.maxlen:
            self.dropped += 1
        lines.append(text)


class PortStates:
    """Thread-safe per-port state. `on_event` from any thread; `take_changes` from the flushing thread.

    `on_change` is called (outside the lock) when a port becomes changed after the last take: the
    worker uses it to schedule one flush for a whole burst of events. `on_station_note` gets the lines
    that are about the station rather than a port (DeviceIDs recovered at start), from any thread.
    """

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._ports: dict[str, _Port] = {}
        self._changed: set[str] = set()
        self._results: list[PortResult] = []
        self._secrets: set[str] = set()
        self._redactor = Redactor()
        self.on_change = on_change
        self.on_station_note: Callable[[str], None] | None = None

    # --- what the worker tells us ----------------------------------------------------------------
    def add_secret(self, secret: str) -> None:
        """Mask `secret` in every line kept from now on (the engine masks too; this is the station's check).

        Every password of the session stays masked, not only the current one: a board may still print
        lines from an earlier run.
        """
        if not secret:
            return
        with self._lock:
            self._secrets.add(secret)
            self._redactor = Redactor(*self._secrets)

    def set_chip(self, port: str, chip: str) -> None:
        """What discovery already knows (virtual boards name their chip before anything runs)."""
        first = False
        with self._lock:
            state = self._port(port)
            if not state.chip and chip:
                state.chip = chip
                first = self._mark(port)
        self._notify(first)

    def preparing(self, port: str, release: bool = False) -> int:
        """A new run begins on `port` (`release`: it writes a release bootloader); the tile resets.
        Returns the run number."""
        with self._lock:
            old = self._port(port)
            fresh = _Port(port, run=old.run + 1, chip=old.chip, state=PortState.PREPARING, release=release)
            fresh.started_mono = time.monotonic()
            fresh.log.extend(old.log)
            fresh.console.extend(old.console)
            fresh.add_line(fresh.log, self._stamp(time.time(), f"— run {fresh.run} —"))
            self._ports[port] = fresh
            first = self._mark(port)
        self._notify(first)
        return fresh.run

    def not_started(self, port: str, reason: str) -> None:
        """Building the job or starting the worker was refused: the port is ready again, with the reason."""
        with self._lock:
            state = self._port(port)
            state.state = PortState.READY
            state.refused = True
            state.started_mono = None
            state.message = self._redactor(reason)
            state.add_line(state.log, self._stamp(time.time(), f"not started: {state.message}"))
            first = self._mark(port)
        self._notify(first)

    # --- SupervisorListener ----------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        if not event.port:  # about the station, not a port (DeviceIDs recovered at start, the outbox)
            note = self.on_station_note
            if isinstance(event, LogEvent) and note is not None:
                note(self._redactor(event.text))
            return
        with self._lock:
            state = self._port(event.port)
            self._apply(state, event)
            first = self._mark(event.port)
        self._notify(first)

    def on_finished(self, summary: object) -> None:
        """The ResultEvent before it already carried everything the window shows."""

    # --- what the flushing thread takes ----------------------------------------------------------
    def take_changes(self) -> tuple[dict[str, PortSnapshot], list[PortResult]]:
        with self._lock:
            snapshots = {port: self._ports[port].snapshot() for port in sorted(self._changed)}
            results, self._results = self._results, []
            self._changed.clear()
        return snapshots, results

    def snapshot(self, port: str) -> PortSnapshot | None:
        """The current state without taking its pending lines (for tests and late-created tiles)."""
        with self._lock:
            state = self._ports.get(port)
            if state is None:
                return None
            return state.snapshot(take_lines=False)

    def state_of(self, port: str) -> PortState:
        with self._lock:
            state = self._ports.get(port)
            return PortState.READY if state is None else state.state

    # --- internals -------------------------------------------------------------------------------
    def _port(self, port: str) -> _Port:
        state = self._ports.get(port)
        if state is None:
            state = self._ports[port] = _Port(port)
        return state

    def _mark(self, port: str) -> bool:
        """Remember `port` as changed; True when it is the first change since the last take."""
        first = not self._changed
        self._changed.add(port)
        return first

    def _notify(self, first: bool) -> None:
        if first and self.on_change is not None:
            self.on_change()

    def _stamp(self, wall: float, text: str) -> str:
        return f"{datetime.fromtimestamp(wall).strftime('%H:%M:%S')}  {text}"

    def _apply(self, state: _Port, event: Event) -> None:
        redact = self._redactor
        if state.state in (PortState.READY, PortState.PREPARING) and not isinstance(event, ResultEvent):
            state.state = PortState.RUNNING
        if isinstance(event, ProgressEvent):
            state.reach(event.step, event.fraction)
            state.image = ImageProgress(event.name, event.index, event.count, event.fraction)
        elif isinstance(event, StepEvent):
            self._apply_step(state, event)
        elif isinstance(event, LogEvent):
            text = redact(event.text)
            if event.source is LogSource.BOARD:
                for line in text.splitlines() or [""]:
                    state.add_line(state.console, line)
            else:
                prefix = "" if event.level in ("info", "debug") else f"{event.level.upper()}: "
                state.add_line(state.log, self._stamp(event.wall, f"[{event.source.value}] {prefix}{text}"))
        elif isinstance(event, DeviceIdEvent):
            state.device_id = event.device_id
            state.add_line(state.log, self._stamp(event.wall, f"DeviceID {event.device_id}"))
        elif isinstance(event, ErrorEvent):
            message = redact(event.message)
            state.errors.append(message)
            state.message = message
            state.add_line(state.log, self._stamp(event.wall, f"ERROR in {event.step.value}: {message}"))
        elif isinstance(event, ResultEvent):
            self._apply_result(state, event)

    def _apply_step(self, state: _Port, event: StepEvent) -> None:
        if event.facts.chip:
            state.chip = event.facts.chip
        if event.facts.mac:
            state.mac = event.facts.mac
        message = self._redactor(event.message)
        if event.status is StepStatus.STARTED:
            state.step = event.step
            state.image = None
            state.reach(event.step)
            state.add_line(state.log, self._stamp(event.wall, f"▶ {event.step.value}"))
            return
        mark = "✓" if event.status is StepStatus.PASSED else "✗"
        if event.status is StepStatus.PASSED:
            state.reach(event.step, 1.0)
            if event.step is Step.IEF:
                state.warning = pass_warning(event.facts.wifi, event.facts.ssid_sent)
            elif event.step is Step.ENROL:
                self._apply_enrolment(state, event.facts)
        else:
            state.message = message
        tail = f": {message}" if message else ""
        state.add_line(state.log, self._stamp(event.wall, f"{mark} {event.step.value}{tail}"))

    @staticmethod
    def _apply_enrolment(state: _Port, facts: StepFacts) -> None:
        """Enrolled: the board reached the instance, so a WiFi join it did not print is proven after all.
        Not confirmed (offline): the pass turns amber, saying so (app/provisioning/pass_warning.py)."""
        if facts.enrolled:
            state.enrolled_firmware = facts.firmware
        state.warning = after_enrolment(state.warning, facts.enrolled)

    def _apply_result(self, state: _Port, event: ResultEvent) -> None:
        message = self._redactor(event.message)
        state.state = _OUTCOME_STATE[event.outcome]
        if state.state is PortState.PASS and state.warning is not None:
            state.state = PortState.WARNING
        state.duration_s = event.duration_s
        state.message = message
        if event.device_id:
            state.device_id = event.device_id
        state.stopped_at = event.step
        if event.outcome is Outcome.PASS:
            state.reach(Step.DONE, 1.0)
        state.add_line(
            state.log,
            self._stamp(
                event.wall, f"RESULT {event.outcome.value.upper()} in {event.duration_s:.1f} s: {message}"
            ),
        )
        self._results.append(
            PortResult(
                port=state.port,
                run=state.run,
                outcome=event.outcome,
                duration_s=event.duration_s,
                device_id=state.device_id,
                message=message,
                chip=state.chip,
                warning=state.warning if event.outcome is Outcome.PASS else None,
            )
        )
