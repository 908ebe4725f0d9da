"""The worker's event lines: every secret masked wherever it sits, and plain events written as they are."""

from __future__ import annotations

import json
import secrets

import pytest

from app.provisioning.event_writer import EventWriter
from app.provisioning.events import LogEvent, LogSource, Step, StepStatus
from app.provisioning.job import MASK, Redactor
from app.provisioning.step_facts import StepFacts


def _written(redactor: Redactor) -> tuple[EventWriter, list[str]]:
    lines: list[str] = []
    return EventWriter("sim-1", lines.append, redactor), lines


# Passwords whose JSON form differs from their text: a quote, a backslash, non-ASCII (escaped as \uXXXX).
@pytest.mark.parametrize("shape", ["pw-{}", 'pw"{}', "pw\\{}", "pw-é{}", "{}\u2603"])
def test_a_secret_is_masked_in_every_text_of_an_event(shape: str) -> None:
    password = shape.format(secrets.token_hex(6))
    writer, lines = _written(Redactor(password))
    writer.log(f"board said: connecting to lab with {password} now", source=LogSource.BOARD)
    facts = StepFacts(description=f"chip {password}", ip="10.0.0.7")
    writer.step(Step.IEF, StepStatus.PASSED, f"sent {password}", facts)

    for line in lines:
        assert password not in line
        assert json.dumps(password)[1:-1] not in line  # nor its JSON-escaped form
    log, step = (json.loads(line) for line in lines)
    assert log["text"] == f"board said: connecting to lab with {MASK} now"
    assert step["message"] == f"sent {MASK}"
    assert step["facts"]["description"] == f"chip {MASK}"
    assert step["facts"]["ip"] == "10.0.0.7"


def test_an_event_without_a_secret_is_written_as_its_own_json_line() -> None:
    writer, lines = _written(Redactor("pw-" + secrets.token_hex(8)))
    event = LogEvent(port="sim-1", level="info", source=LogSource.ESPTOOL, text='Wrote 4096 bytes "ok" \\ é')
    writer.emit(event)
    assert lines == [event.to_json_line()]


def test_a_secret_that_only_looks_like_part_of_an_escape_leaves_valid_json() -> None:
    # "u00e9" is how JSON writes "é": found in the line, though no text holds the secret itself.
    writer, lines = _written(Redactor("u00e9"))
    writer.log("caf\u00e9 u00e9")
    assert json.loads(lines[0])["text"] == f"caf\u00e9 {MASK}"
