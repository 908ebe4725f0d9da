"""The events a port worker streams to the station: one JSON object per line on its stdout.

The same stream is what `ql-station provision --json` prints and what the GUI turns into signals, so
its shape is a contract: every line has a `type`, the `port` it is about, and two clocks (`mono`, the
system-wide monotonic clock for durations; `wall`, Unix time for people). A line the station cannot
read (a child that crashed half-way through a write, or printed something else) becomes an
`ErrorEvent` that says so; reading a line never raises.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, ClassVar

from app.provisioning.step_facts import FactsError, StepFacts

MAX_SHOWN_LINE = 200


class Step(Enum):
    """Where a board is in its pipeline. `push` and `record` happen in the station, not the worker."""

    START = "start"
    DETECT = "detect"
    CHECK = "check"
    FLASH = "flash"
    BOOT = "boot"
    IEF = "ief"
    PUSH = "push"
    ENROL = "enrol"  # the station waits for the instance to report the board Enrolled
    RECORD = "record"
    DONE = "done"


class StepStatus(Enum):
    STARTED = "started"
    PASSED = "passed"
    FAILED = "failed"


class Outcome(Enum):
    PASS = "pass"  # noqa: S105
    FAIL = "fail"
    CANCELLED = "cancelled"


class LogSource(Enum):
    """Who wrote a log line: the engine itself, esptool, the board's UART, or the worker's stderr."""

    ENGINE = "engine"
    ESPTOOL = "esptool"
    BOARD = "board"
    WORKER = "worker"


def _now_mono() -> float:
    return time.monotonic()


def _now_wall() -> float:
    return time.time()


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(kind: type[Event]) -> tuple[str, ...]:
    """An event class's field names, looked up once: a worker writes ~150 events a board."""
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = tuple(f.name for f in fields(kind))
    return names


@dataclass(frozen=True, kw_only=True)
class Event:
    """What every event carries. Subclasses add their own fields and a `TYPE` name."""

    TYPE: ClassVar[str] = ""
    port: str
    mono: float = field(default_factory=_now_mono)
    wall: float = field(default_factory=_now_wall)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.TYPE}
        for name in _field_names(type(self)):
            value = getattr(self, name)
            if isinstance(value, Enum):
                value = value.value
            elif isinstance(value, StepFacts):
                value = value.to_json()
            out[name] = value
        return out

    def to_json_line(self) -> str:
        """One line of JSON, no trailing newline. Non-ASCII is escaped so any console can print it."""
        return json.dumps(self.to_dict(), separators=(",", ":"))


@dataclass(frozen=True, kw_only=True)
class StepEvent(Event):
    """A step started, passed or failed. `facts` holds what the step learned (chip, MAC, ...)."""

    TYPE: ClassVar[str] = "step"
    step: Step
    status: StepStatus
    message: str = ""
    facts: StepFacts = field(default_factory=StepFacts)


@dataclass(frozen=True, kw_only=True)
class ProgressEvent(Event):
    """Bytes written: of image `index` (0-based) of `count`, and across all images of the board."""

    TYPE: ClassVar[str] = "progress"
    step: Step
    index: int
    count: int
    name: str
    image_done: int
    image_total: int
    overall_done: int
    overall_total: int

    @property
    def fraction(self) -> float:
        return self.overall_done / self.overall_total if self.overall_total else 1.0


@dataclass(frozen=True, kw_only=True)
class LogEvent(Event):
    TYPE: ClassVar[str] = "log"
    level: str
    source: LogSource
    text: str


@dataclass(frozen=True, kw_only=True)
class DeviceIdEvent(Event):
    """The board told us its DeviceID (64 hex). The station validates it and pushes it to the batch."""

    TYPE: ClassVar[str] = "device_id"
    device_id: str


@dataclass(frozen=True, kw_only=True)
class ErrorEvent(Event):
    """Something failed. `step` names where, `message` says what to do, `kind` is the error class."""

    TYPE: ClassVar[str] = "error"
    step: Step
    message: str
    kind: str = ""


@dataclass(frozen=True, kw_only=True)
class ResultEvent(Event):
    """The last event of a board's run: its outcome and how long it took."""

    TYPE: ClassVar[str] = "result"
    outcome: Outcome
    duration_s: float
    device_id: str = ""
    message: str = ""
    step: Step = Step.DONE


EVENT_TYPES: dict[str, type[Event]] = {
    cls.TYPE: cls for cls in (StepEvent, ProgressEvent, LogEvent, DeviceIdEvent, ErrorEvent, ResultEvent)
}
_ENUM_FIELDS: dict[str, type[Enum]] = {
    "step": Step,
    "status": StepStatus,
    "outcome": Outcome,
    "source": LogSource,
}


_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "int": int,
    "float": (int, float),
}


class _BadLine(Exception):
    pass


def from_json_line(line: str | bytes, port: str) -> Event:
    """Parse one line from a worker that serves `port`. Never raises: bad lines become ErrorEvents."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    text = line.strip()
    try:
        return _parse(text)
    except _BadLine as problem:
        return ErrorEvent(
            port=port,
            step=Step.START,
            kind="ProtocolError",
            message=f"the port worker sent a line the station cannot read ({problem}): {_shown(text)}",
        )


def _parse(text: str) -> Event:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _BadLine(f"not JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise _BadLine("not a JSON object")
    kind = data.pop("type", None)
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise _BadLine(f"unknown event type {kind!r}")
    declared = _declared_types(cls)
    unknown = data.keys() - declared.keys()
    if unknown:
        raise _BadLine(f"unknown field(s) {', '.join(sorted(unknown))} in a {kind} event")
    values: dict[str, Any] = {}
    for name, value in data.items():
        values[name] = _field_value(kind, name, value, declared[name])
    try:
        return cls(**values)
    except TypeError as exc:
        raise _BadLine(f"incomplete {kind} event: {exc}") from None


def _declared_types(cls: type[Event]) -> dict[str, str]:
    """Each field's declared type, as written (the annotations are strings): worked out once per class,
    since the station parses every line of every worker (~150 per board) on its own threads."""
    found = _DECLARED.get(cls)
    if found is None:
        found = _DECLARED[cls] = {f.name: str(f.type) for f in fields(cls)}
    return found


_DECLARED: dict[type[Event], dict[str, str]] = {}


def _field_value(kind: str, name: str, value: Any, declared: str) -> Any:
    if declared == "StepFacts":
        try:
            return StepFacts.from_json(value)
        except FactsError as problem:
            raise _BadLine(f"{kind} event field {name!r}: {problem}") from None
    if name in _ENUM_FIELDS:
        enum = _ENUM_FIELDS[name]
        try:
            return enum(value)
        except ValueError:
            raise _BadLine(f"{kind} event has an unknown {name} {value!r}") from None
    expected: type | tuple[type, ...] | None = _JSON_TYPES.get(declared)
    if expected is not None and (not isinstance(value, expected) or isinstance(value, bool)):
        raise _BadLine(f"{kind} event field {name!r} has the wrong type ({type(value).__name__})")
    return float(value) if expected == (int, float) else value


def _shown(text: str) -> str:
    return repr(text if len(text) <= MAX_SHOWN_LINE else text[:MAX_SHOWN_LINE] + "...")
