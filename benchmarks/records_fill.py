"""A records file with a realistic shift in it: many boards, mostly passing, failing the way lines fail.

Used by benchmarks/records_page.py (100,000 records) and docs/make_records_screenshots.py (a shift of
a few hundred). The failures are the engine's own messages (WiFi authentication, a board that printed
nothing after reset, a DeviceID already in another batch, a board unplugged mid-flash), with their
steps and step logs as the supervisor writes them. Nothing here is secret: the password is never in a
record, and these records are made up.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.provisioning.events import Outcome
from app.provisioning.records import ProvisioningRecord, PushState, RecordsDB
from app.provisioning.step_log import StepLogEntry, encode

STEPS = ("start", "detect", "check", "flash", "boot", "ief", "push")
FAILURES = (  # (step, reason, weight)
    ("ief", "the board could not join WiFi 'line-3' with the credentials it was given (authentication "
     "failed) and is asking for new ones; check the SSID and password, then re-enrol the board", 9),
    ("boot", "the board printed nothing after reset: check its strapping pins (it may be in download "
     "mode)", 6),
    ("push", "Failed while adding to the batch: DeviceID {id}... is already in batch 'line-1'", 4),
    ("flash", "the board on {port} stopped answering while writing the IEF (timed out); it may have been "
     "unplugged or reset", 3),
    ("check", "the board is an ESP32, but the task is for ESP32-C3; plug in an ESP32-C3", 2),
    ("ief", "no answer from the board within 30 s (answered: ql_rootCA, ql_endpoint); check the board is "
     "still plugged in, then re-enrol it", 2),
)  # fmt: skip
OPERATORS = ("alice", "bob", "carol")
BATCHES = ("line-1", "line-2")
TASKS = ("c3-dev", "c3-release")


def make_record(n: int, at: datetime, rng: random.Random, fail_rate: float = 0.08) -> ProvisioningRecord:
    port = f"/dev/ttyUSB{n % 16}"
    mac = "24:0a:c4:{:02x}:{:02x}:{:02x}".format(*(n.to_bytes(3, "big")))
    cancelled = rng.random() < 0.01
    failed = not cancelled and rng.random() < fail_rate
    device_id = f"{rng.getrandbits(256):064x}"
    duration = rng.uniform(18.0, 26.0)
    step, reason = "done", ""
    if failed:
        step, reason, _ = rng.choices(FAILURES, weights=[w for *_, w in FAILURES])[0]
        reason = reason.format(id=device_id[:12], port=port)
        duration = rng.uniform(4.0, 30.0)
    elif cancelled:
        step, reason = "flash", f"cancelled by the operator; the board on {port} was reset"
    outcome = Outcome.FAIL if failed else Outcome.CANCELLED if cancelled else Outcome.PASS
    gave_id = outcome is Outcome.PASS or step in ("ief", "push")  # a journaled ID is pushed, whatever
    return ProvisioningRecord(
        at=at,
        operator=OPERATORS[(n // 200) % len(OPERATORS)],
        station="line-3-bench",
        port=port,
        mode="provision",
        batch=BATCHES[(n // 500) % len(BATCHES)],
        outcome=outcome,
        duration_s=duration,
        push_state=_push_state(gave_id, step),
        task=TASKS[0],
        chip="ESP32-C3",
        mac=mac,
        device_id=device_id if gave_id else "",
        error=reason,
        step=step,
        step_log=_steps(at - timedelta(seconds=duration), step, outcome, reason),
    )


def _push_state(gave_id: bool, step: str) -> PushState:
    if step == "push":
        return PushState.REFUSED  # the instance said no: the ID is in another batch
    return PushState.PUSHED if gave_id else PushState.NONE


def _steps(start: datetime, last: str, outcome: Outcome, reason: str) -> tuple[StepLogEntry, ...]:
    entries: list[StepLogEntry] = []
    at = start
    messages = {
        "detect": "ESP32-C3 (revision v0.4), MAC known",
        "flash": "3 images, 1,081,344 bytes, verified",
    }
    for step in STEPS:
        entries.append(StepLogEntry(at, step, "started"))
        at += timedelta(seconds={"flash": 11.5, "ief": 4.0, "boot": 1.2}.get(step, 0.4))
        if step == last:
            entries.append(StepLogEntry(at, step, "failed", reason))
            break
        entries.append(StepLogEntry(at, step, "passed", messages.get(step, "")))
    entries.append(StepLogEntry(at, last, outcome.value, reason))
    return tuple(entries)


def fill(path: Path, count: int, until: datetime | None = None, hours: float = 8.0, seed: int = 13) -> None:
    """Write `count` records spread over the `hours` before `until`, oldest first, in one transaction."""
    rng = random.Random(seed)  # the same shift every time: screenshots and figures are comparable
    until = until or datetime.now(UTC)
    start = until - timedelta(hours=hours)
    span = (until - start).total_seconds()
    with RecordsDB(path):
        pass  # create and migrate the file
    conn = sqlite3.connect(path)
    rows = []
    for n in range(count):
        # a shift ramps up over its first hour and slows at the break in its middle
        x = rng.random() ** 0.85
        if 0.45 < x < 0.52 and rng.random() < 0.6:
            x = rng.random()
        record = make_record(n, start + timedelta(seconds=span * x), rng)
        rows.append(_row(record))
    rows.sort(key=lambda row: row[0])
    conn.executemany(
        "INSERT INTO records (at_ms, operator, station, port, mode, chip, mac, device_id, task, batch, "
        "image_sha256s, outcome, duration_ms, error, push_state, step, step_log) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.commit()
    conn.close()


def _row(r: ProvisioningRecord) -> tuple[object, ...]:
    return (
        int(r.at.timestamp() * 1000),
        r.operator,
        r.station,
        r.port,
        r.mode,
        r.chip,
        r.mac,
        r.device_id,
        r.task,
        r.batch,
        r.outcome.value,
        round(r.duration_s * 1000),
        r.error,
        r.push_state.value,
        r.step,
        encode(r.step_log),
    )
