"""PortStates on its own, with no Qt: plain events in, typed state out.

The station worker and the tiles rely on these transitions; here they are fed the events a port
worker sends, in the order it sends them, and the snapshots are checked field by field.
"""

from __future__ import annotations

import pytest

from app.provisioning.events import (
    DeviceIdEvent,
    ErrorEvent,
    LogEvent,
    LogSource,
    Outcome,
    ProgressEvent,
    ResultEvent,
    Step,
    StepEvent,
    StepStatus,
)
from app.provisioning.ief_session import NetworkState
from app.provisioning.job import MASK
from app.provisioning.step_facts import StepFacts
from app.workers.port_states import (
    ImageProgress,
    PassWarning,
    PortResult,
    PortSnapshot,
    PortState,
    PortStates,
    Reached,
)

PORT = "rfc2217://127.0.0.1:4001"
DEVICE_ID = "ab" * 32
SECRET = "lab-password-1"


def started(step: Step) -> StepEvent:
    return StepEvent(port=PORT, step=step, status=StepStatus.STARTED)


def passed(step: Step, **facts: str) -> StepEvent:
    return StepEvent(port=PORT, step=step, status=StepStatus.PASSED, facts=StepFacts(**facts))


def progress(done: int, total: int = 100, index: int = 0, name: str = "bootloader") -> ProgressEvent:
    return ProgressEvent(
        port=PORT,
        step=Step.FLASH,
        index=index,
        count=3,
        name=name,
        image_done=done,
        image_total=total,
        overall_done=done,
        overall_total=total,
    )


def now(states: PortStates) -> PortSnapshot:
    snap = states.snapshot(PORT)
    assert snap is not None
    return snap


def test_a_port_nobody_ran_is_ready() -> None:
    states = PortStates()
    assert states.state_of(PORT) is PortState.READY
    assert states.snapshot(PORT) is None


def test_a_run_moves_through_its_steps_and_passes() -> None:
    states = PortStates()
    assert states.preparing(PORT) == 1
    snap = now(states)
    assert (snap.state, snap.run, snap.step, snap.reached, snap.refused) == (
        PortState.PREPARING,
        1,
        None,
        None,
        False,
    )
    assert snap.state.busy and snap.started_mono is not None

    states.on_event(started(Step.DETECT))
    snap = now(states)
    assert (snap.state, snap.step, snap.reached) == (PortState.RUNNING, Step.DETECT, Reached.at(Step.DETECT))
    states.on_event(passed(Step.DETECT, chip="ESP32-C3", mac="02:51:aa"))
    snap = now(states)
    assert (snap.chip, snap.mac, snap.reached) == ("ESP32-C3", "02:51:aa", Reached.at(Step.DETECT, 1.0))

    states.on_event(started(Step.FLASH))
    states.on_event(progress(40, name="ief", index=2))
    snap = now(states)
    assert snap.image == ImageProgress("ief", 2, 3, 0.4)
    assert snap.reached == Reached.at(Step.FLASH, 0.4)

    states.on_event(started(Step.BOOT))
    snap = now(states)
    assert (snap.step, snap.image) == (Step.BOOT, None), "a new step ends the image's progress"

    states.on_event(DeviceIdEvent(port=PORT, device_id=DEVICE_ID))
    states.on_event(ResultEvent(port=PORT, outcome=Outcome.PASS, duration_s=42.0, device_id=DEVICE_ID))
    snap = now(states)
    assert (snap.state, snap.device_id, snap.duration_s) == (PortState.PASS, DEVICE_ID, 42.0)
    assert (snap.stopped_at, snap.reached) == (Step.DONE, Reached.at(Step.DONE, 1.0))
    assert snap.state.finished and not snap.state.busy


def test_progress_never_goes_back() -> None:
    states = PortStates()
    states.preparing(PORT)
    states.on_event(started(Step.FLASH))
    states.on_event(progress(70))
    states.on_event(progress(30))  # a late, older reading
    assert now(states).reached == Reached.at(Step.FLASH, 0.7)
    states.on_event(passed(Step.FLASH))
    states.on_event(started(Step.DETECT))  # out of order: still no step backwards
    assert now(states).reached == Reached.at(Step.FLASH, 1.0)
    assert Reached.at(Step.FLASH, 1.0) < Reached.at(Step.BOOT) < Reached.at(Step.BOOT, 0.1)


def test_a_failure_keeps_its_step_errors_and_one_result() -> None:
    states = PortStates()
    states.preparing(PORT)
    states.on_event(started(Step.FLASH))
    states.on_event(ErrorEvent(port=PORT, step=Step.FLASH, message="the board vanished at 0x10000"))
    states.on_event(
        ResultEvent(port=PORT, outcome=Outcome.FAIL, duration_s=2.5, step=Step.FLASH, message="vanished")
    )
    snap = now(states)
    assert (snap.state, snap.stopped_at, snap.message) == (PortState.FAIL, Step.FLASH, "vanished")
    assert snap.errors == ("the board vanished at 0x10000",)
    _snapshots, results = states.take_changes()
    assert results == [PortResult(PORT, 1, Outcome.FAIL, 2.5, "", "vanished", "")]
    assert states.take_changes() == ({}, []), "a result is handed over once"


@pytest.mark.parametrize(
    ("wifi", "ssid_sent", "state", "warning"),
    [
        (NetworkState.JOINED, True, PortState.PASS, None),
        (NetworkState.JOINED, False, PortState.WARNING, PassWarning.KEPT_WIFI),
        (NetworkState.UNCONFIRMED, True, PortState.WARNING, PassWarning.WIFI_UNCONFIRMED),
        (NetworkState.NOT_WATCHED, True, PortState.PASS, None),
    ],
)
def test_a_pass_whose_wifi_is_not_the_one_given_or_unconfirmed_is_a_warning(
    wifi: NetworkState, ssid_sent: bool, state: PortState, warning: PassWarning | None
) -> None:
    states = PortStates()
    states.preparing(PORT)
    facts = StepFacts(device_id=DEVICE_ID, wifi=wifi, ssid_sent=ssid_sent)
    states.on_event(StepEvent(port=PORT, step=Step.IEF, status=StepStatus.PASSED, facts=facts))
    states.on_event(ResultEvent(port=PORT, outcome=Outcome.PASS, duration_s=9.0, device_id=DEVICE_ID))
    snap = now(states)
    assert (snap.state, snap.warning) == (state, warning)
    assert snap.state.finished and snap.state.passed
    _snapshots, [result] = states.take_changes()
    assert (result.outcome, result.warning) == (Outcome.PASS, warning), "the counters see it as a pass"
    states.preparing(PORT)
    assert now(states).warning is None, "the next run starts clean"


def test_a_cancelled_run_is_finished() -> None:
    states = PortStates()
    states.preparing(PORT)
    states.on_event(started(Step.IEF))
    states.on_event(ResultEvent(port=PORT, outcome=Outcome.CANCELLED, duration_s=1.0, step=Step.IEF))
    snap = now(states)
    assert (snap.state, snap.stopped_at) == (PortState.CANCELLED, Step.IEF)


def test_a_refused_start_leaves_the_port_ready_with_the_reason_masked() -> None:
    states = PortStates()
    states.add_secret(SECRET)
    states.preparing(PORT)
    states.not_started(PORT, f"the password {SECRET} is refused")
    snap = now(states)
    assert (snap.state, snap.refused, snap.started_mono) == (PortState.READY, True, None)
    assert snap.message == f"the password {MASK} is refused"
    assert states.preparing(PORT) == 2 and not now(states).refused, "the next run starts clean"


def test_lines_are_masked_and_handed_over_once() -> None:
    states = PortStates()
    states.add_secret(SECRET)
    states.preparing(PORT)
    states.on_event(LogEvent(port=PORT, level="info", source=LogSource.BOARD, text=f"psk={SECRET}\nok"))
    states.on_event(LogEvent(port=PORT, level="warning", source=LogSource.ENGINE, text=f"sent {SECRET}"))
    snapshots, _results = states.take_changes()
    snap = snapshots[PORT]
    assert snap.new_console == (f"psk={MASK}", "ok")
    assert any(line.endswith(f"[engine] WARNING: sent {MASK}") for line in snap.new_log)
    assert all(SECRET not in line for line in (*snap.new_log, *snap.new_console))
    states.on_event(started(Step.DETECT))
    again, _ = states.take_changes()
    assert again[PORT].new_console == ()


def test_a_line_about_the_station_goes_to_the_note_not_to_a_port() -> None:
    states = PortStates()
    states.add_secret(SECRET)
    notes: list[str] = []
    states.on_station_note = notes.append
    states.on_event(LogEvent(port="", level="info", source=LogSource.ENGINE, text=f"recovered {SECRET}"))
    assert notes == [f"recovered {MASK}"]
    assert states.take_changes() == ({}, [])


def test_one_wake_per_burst_of_changes() -> None:
    wakes: list[None] = []
    states = PortStates(on_change=lambda: wakes.append(None))
    states.preparing(PORT)
    for done in range(1, 50):
        states.on_event(progress(done))
    states.set_chip("rfc2217://127.0.0.1:4002", "ESP32-S3")
    assert len(wakes) == 1
    snapshots, _ = states.take_changes()
    assert sorted(snapshots) == [PORT, "rfc2217://127.0.0.1:4002"]
    states.on_event(progress(60))
    assert len(wakes) == 2
