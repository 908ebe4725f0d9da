"""The worker -> station event stream: round trips, and bad lines that must never crash the reader."""

from __future__ import annotations

import json

import pytest

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
    from_json_line,
)
from app.provisioning.ief_session import NetworkState
from app.provisioning.step_facts import StepFacts

PORT = "rfc2217://127.0.0.1:4000"

EXAMPLES: list[Event] = [
    StepEvent(
        port=PORT, step=Step.DETECT, status=StepStatus.PASSED, message="ESP32-C3",
        facts=StepFacts(mac="aa", key_digests=("d1",), secure_boot=False, wifi=NetworkState.JOINED),
    ),
    ProgressEvent(
        port=PORT, step=Step.FLASH, index=1, count=3, name="ief", image_done=10, image_total=20,
        overall_done=30, overall_total=60,
    ),
    LogEvent(port=PORT, level="info", source=LogSource.BOARD, text="I (12) ief: hello ünïcode"),
    DeviceIdEvent(port=PORT, device_id="ab" * 32),
    ErrorEvent(port=PORT, step=Step.IEF, message="timed out", kind="IefTimeoutError"),
    ResultEvent(port=PORT, outcome=Outcome.PASS, duration_s=1.5, device_id="ab" * 32),
]  # fmt: skip


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.TYPE)
def test_round_trip(event: Event) -> None:
    line = event.to_json_line()
    assert "\n" not in line
    assert json.loads(line)["type"] == event.TYPE
    assert from_json_line(line, "other") == event
    assert from_json_line(line.encode() + b"\r\n", "other") == event


def test_every_line_has_type_port_and_both_clocks() -> None:
    data = json.loads(EXAMPLES[0].to_json_line())
    assert {"type", "port", "mono", "wall"} <= set(data)
    assert data["wall"] > 1_600_000_000


def test_progress_fraction() -> None:
    assert EXAMPLES[1].fraction == 0.5  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("Traceback (most recent call last):", "not JSON"),
        ('{"type": "step", "port": "p", "step": "detect"', "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"type": "telemetry", "port": "p"}', "unknown event type 'telemetry'"),
        ('{"port": "p"}', "unknown event type None"),
        ('{"type": "step", "port": "p", "step": "fly", "status": "started"}', "unknown step 'fly'"),
        ('{"type": "step", "port": "p", "step": "flash", "status": "started", "x": 1}', "unknown field(s) x"),
        ('{"type": "device_id", "port": "p"}', "incomplete device_id event"),
        ('{"type": "device_id", "port": "p", "device_id": 5}', "'device_id' has the wrong type (int)"),
        ('{"type": "result", "port": "p", "outcome": "pass", "duration_s": "1"}', "has the wrong"),
        (
            '{"type": "step", "port": "p", "step": "flash", "status": "started", "facts": {"a": 1}}',
            "unknown fact",
        ),
        (
            '{"type": "step", "port": "p", "step": "ief", "status": "passed", "facts": {"mac": 1}}',
            "wrong type",
        ),
        (
            '{"type": "step", "port": "p", "step": "ief", "status": "passed", "facts": {"wifi": "up"}}',
            "unknown value",
        ),
        (
            '{"type": "step", "port": "p", "step": "ief", "status": "passed", "facts": []}',
            "must be an object",
        ),
        ("\xff\xfe", "not JSON"),
    ],
)
def test_bad_lines_become_error_events(line: str, words: str) -> None:
    event = from_json_line(line, PORT)
    assert isinstance(event, ErrorEvent)
    assert event.port == PORT
    assert event.kind == "ProtocolError"
    assert "cannot read" in event.message
    assert words in event.message


def test_long_bad_line_is_shortened() -> None:
    event = from_json_line("x" * 10_000, PORT)
    assert isinstance(event, ErrorEvent)
    assert len(event.message) < 400


def test_integer_duration_is_accepted_as_float() -> None:
    event = from_json_line('{"type": "result", "port": "p", "outcome": "fail", "duration_s": 2}', PORT)
    assert isinstance(event, ResultEvent)
    assert event.duration_s == 2.0 and event.outcome is Outcome.FAIL
