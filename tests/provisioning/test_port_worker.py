"""The port worker as the station runs it: a real subprocess, the job on stdin, JSON events on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from app.instance.local.instance import LocalInstance
from app.provisioning.device_id_readings import ReadingCheck
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
from app.provisioning.job import ConnectReset, PortJob, Timeouts
from app.provisioning.job_builder import provisioning_job
from app.provisioning.port_worker import EXIT_BAD_JOB, EXIT_FAIL, EXIT_PASS
from app.provisioning.staged_images import StagedImages
from app.provisioning.station_replies import journaled_reply, vetted_reply
from app.provisioning.worker_launch import worker_command, worker_environment
from tests.flashing.conftest import MockPeer, start_mock_peer

from .conftest import DEV_TASK, FleetFactory
from .sim_boards import board_device_id


def run_worker(stdin: bytes, timeout: float = 90) -> tuple[int, list[str], str]:
    process = subprocess.run(
        worker_command(),
        input=stdin,
        capture_output=True,
        timeout=timeout,
        env=worker_environment(),
    )
    lines = process.stdout.decode("utf-8").splitlines()
    return process.returncode, lines, process.stderr.decode("utf-8", errors="replace")


def run_worker_with_station(job: PortJob, answer: bool, timeout: float = 90) -> tuple[int, list[str], str]:
    """The worker with a station on its stdin that confirms (`answer`) or never confirms a DeviceID."""
    process = subprocess.Popen(
        worker_command(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=worker_environment(),
    )
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    staged = StagedImages()  # the station's folder the worker reads the images from
    process.stdin.write(job.to_json(staged).encode() + b"\n")
    process.stdin.flush()
    lines: list[str] = []
    for raw in process.stdout:
        line = raw.decode("utf-8").strip()
        lines.append(line)
        event = from_json_line(line, job.port)
        if isinstance(event, StepEvent) and event.step is Step.DETECT and event.status is StepStatus.PASSED:
            process.stdin.write(vetted_reply(event.facts.mac))  # the board is in no other batch
            process.stdin.flush()
        if isinstance(event, DeviceIdEvent):
            if answer:
                process.stdin.write(journaled_reply(event.device_id))
                process.stdin.flush()
            else:
                process.stdin.close()  # the station is gone
    code = process.wait(timeout=timeout)
    staged.close()
    stderr = process.stderr.read().decode("utf-8", errors="replace")
    for stream in (process.stdout, process.stderr):
        stream.close()
    if not process.stdin.closed:
        process.stdin.close()
    return code, lines, stderr


def parse(lines: list[str], port: str) -> list[Event]:
    for line in lines:
        json.loads(line)  # every stdout line is a JSON object: nothing else may reach stdout
    return [from_json_line(line, port) for line in lines]


@pytest.fixture
def mock_c3(tmp_path: Path) -> Iterator[MockPeer]:
    peer = start_mock_peer("esp32c3", tmp_path)
    try:
        yield peer
    finally:
        peer.stop()


def test_worker_command_is_the_app_subcommand() -> None:
    assert worker_command() == [sys.executable, "-m", "app", "port-worker"]


def test_python_dash_m_app_port_worker_runs() -> None:
    process = subprocess.run(
        [sys.executable, "-m", "app", "port-worker"],
        input=b"{}",
        capture_output=True,
        timeout=60,
        env=worker_environment(),
    )
    assert process.returncode == EXIT_BAD_JOB
    assert json.loads(process.stdout.decode().splitlines()[-1])["type"] == "result"


@pytest.mark.parametrize(
    ("stdin", "words"),
    [
        (b"", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"version": 1}', "this worker reads version 2"),
        (b'{"version": 2}', "has no 'instance' field"),
    ],
)
def test_unusable_job(stdin: bytes, words: str) -> None:
    code, lines, _stderr = run_worker(stdin)
    assert code == EXIT_BAD_JOB
    events = parse(lines, "?")
    assert [type(e) for e in events] == [ErrorEvent, ResultEvent]
    assert isinstance(events[0], ErrorEvent) and words in events[0].message
    assert "could not read its job" in events[0].message


def test_provisions_a_virtual_board(instance: LocalInstance, batch: str, make_fleet: FleetFactory) -> None:
    fleet = make_fleet(1)
    ap = fleet.access_point
    job = provisioning_job(instance, task=DEV_TASK, batch=batch, ssid=ap.ssid, password=ap.password)
    job = job.for_port(fleet.urls[0])
    code, lines, stderr = run_worker_with_station(job, answer=True)
    events = parse(lines, job.port)
    assert code == EXIT_PASS, stderr
    result = events[-1]
    assert isinstance(result, ResultEvent) and result.outcome is Outcome.PASS
    assert result.device_id == board_device_id(fleet.boards[0])
    ief = next(e for e in events if isinstance(e, StepEvent) and e.step is Step.IEF and e.facts.device_id)
    assert ief.facts.id_check is ReadingCheck.CONFIRMED  # the board's log line agreed with its request
    assert any(isinstance(e, LogEvent) and e.source is LogSource.ESPTOOL for e in events)
    assert any(isinstance(e, LogEvent) and e.source is LogSource.BOARD for e in events)
    assert ap.password not in "\n".join(lines) and ap.password not in stderr


def test_a_deviceid_the_station_did_not_save_is_not_acknowledged(
    instance: LocalInstance, batch: str, make_fleet: FleetFactory
) -> None:
    """The station is gone (stdin closed) when the ID arrives: the board is never told "OK"."""
    fleet = make_fleet(1)
    ap = fleet.access_point
    job = provisioning_job(instance, task=DEV_TASK, batch=batch, ssid=ap.ssid, password=ap.password)
    job = job.for_port(fleet.urls[0])
    code, lines, stderr = run_worker_with_station(job, answer=False)
    result = parse(lines, job.port)[-1]
    assert code == EXIT_FAIL, stderr
    assert isinstance(result, ResultEvent) and result.step is Step.IEF
    assert "was not acknowledged: the station stopped before it confirmed" in result.message
    assert result.device_id == board_device_id(fleet.boards[0])
    assert "deviceID acknowledged" not in "\n".join(lines)


def test_flashes_the_independent_mock_bootloader_then_times_out_waiting_for_the_ief(
    instance: LocalInstance, batch: str, mock_c3: MockPeer
) -> None:
    """The same flash code against esp32-mock-bootloader; it runs no firmware, so the IEF never speaks."""
    base = provisioning_job(instance, task=DEV_TASK, batch=batch, ssid="factory", password="runtime-" + batch)
    job: PortJob = replace(
        base.for_port(mock_c3.url),
        connect_reset=ConnectReset.NO_RESET,
        timeouts=Timeouts(ief=1.5),
    )
    code, lines, stderr = run_worker_with_station(job, answer=True)
    events = parse(lines, job.port)
    assert code == EXIT_FAIL, stderr
    passed = [e.step for e in events if isinstance(e, StepEvent) and e.status is StepStatus.PASSED]
    assert passed == [Step.DETECT, Step.CHECK, Step.FLASH, Step.BOOT]
    flashed = next(
        e for e in events if isinstance(e, StepEvent) and e.step is Step.FLASH and e.facts.image_sha256s
    )
    assert flashed.facts.image_sha256s == tuple((image.kind.value, image.sha256) for image in job.images)
    progress = [e for e in events if isinstance(e, ProgressEvent)]
    assert {p.index for p in progress} == {0, 1, 2}
    assert progress[-1].overall_done == sum(len(image.data) for image in job.images)
    verified = [e for e in events if isinstance(e, LogEvent) and e.text == "Hash of data verified."]
    assert len(verified) == 3
    boot = next(e for e in events if isinstance(e, StepEvent) and e.step is Step.BOOT and e.message)
    assert "no reset lines" in boot.message
    result = events[-1]
    assert isinstance(result, ResultEvent) and result.outcome is Outcome.FAIL and result.step is Step.IEF
    assert "ief failed" in result.message and "1.5 s" in result.message and "IEF DATA" in result.message
