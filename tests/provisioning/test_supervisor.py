"""The supervisor end to end: real port-worker processes, virtual boards on loopback, a real instance."""

from __future__ import annotations

import hashlib
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from app.domain.errors import ConflictError
from app.domain.records import PageRequest
from app.instance.local.instance import LocalInstance
from app.provisioning.device_push import flush_outbox
from app.provisioning.events import (
    DeviceIdEvent,
    ErrorEvent,
    LogEvent,
    Outcome,
    ProgressEvent,
    ResultEvent,
    Step,
    StepEvent,
    StepStatus,
)
from app.provisioning.ief_session import NetworkState
from app.provisioning.job import JobMode, Timeouts
from app.provisioning.job_builder import provisioning_job
from app.provisioning.record_export import ExportFormat
from app.provisioning.records import PushState, RecordsDB
from app.provisioning.step_facts import StepFacts
from app.provisioning.supervisor import Supervisor
from app.provisioning.worker_launch import CommandLauncher
from app.sim.board import VirtualBoard
from app.sim.faults import Faults, Stage
from app.sim.fleet import SimFleet

from .conftest import DEV_TASK, RELEASE_TASK, S3_TASK, Collector, FleetFactory, run_jobs
from .network import NetworkDown
from .sim_boards import board_device_id, flash_was_written


def _job(instance: LocalInstance, batch: str, fleet: SimFleet, task: str = DEV_TASK, **kw: object):  # type: ignore[no-untyped-def]
    ap = fleet.access_point
    return provisioning_job(instance, task=task, batch=batch, ssid=ap.ssid, password=ap.password, **kw)  # type: ignore[arg-type]


@contextmanager
def at_first_boot_after_flash(board: VirtualBoard, action: Callable[[], None]) -> Iterator[None]:
    """Run `action` in the board's own thread when it boots after its last image was verified.

    Synchronous, so a fault switched on here cannot touch the flash step's replies. A board also boots
    at power-on: the boot that counts is the first after the third MD5.
    """
    original = board._on_stage

    def on_stage(stage: Stage, ctx: Any) -> None:
        if stage is Stage.BOOT and board.stages.count(Stage.MD5) >= 3 and Stage.BOOT not in after:
            after.append(stage)
            action()
        original(stage, ctx)

    after: list[Stage] = []
    board._on_stage = on_stage  # type: ignore[method-assign]
    try:
        yield
    finally:
        board._on_stage = original  # type: ignore[method-assign]


@contextmanager
def after_flash(board: VirtualBoard, action: Callable[[], None]) -> Iterator[None]:
    """Within the block, run `action` as soon as the board has received its third (last) image's MD5.

    Good for arming a stage fault (vanish at BOOT/IEF...) before the board gets there; for a fault that
    acts at once, use `at_first_boot_after_flash`.
    """
    done = threading.Event()

    def watch() -> None:
        while board.stages.count(Stage.MD5) < 3:
            if done.wait(0.002):
                return
        action()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _batch_ids(instance: LocalInstance, batch: str) -> set[str]:
    return {d.device_id for d in instance.list_devices(batch, PageRequest(limit=1000)).items}


@pytest.mark.parametrize("launcher", ["default", "command"])
def test_two_boards_provisioned_pushed_and_recorded(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory, launcher: str
) -> None:
    """Through the platform's launcher (the fork server on Linux) and a fresh interpreter per worker,
    as on Windows and macOS."""
    fleet = make_fleet(2)
    job = _job(instance, batch, fleet)
    jobs = [job.for_port(url) for url in fleet.urls]
    chosen = CommandLauncher() if launcher == "command" else None
    events, summaries = run_jobs(instance, records, jobs, launcher=chosen)

    computed = {board_device_id(board) for board in fleet.boards}
    assert None not in computed and len(computed) == 2
    assert {s.device_id for s in summaries.values()} == computed
    assert _batch_ids(instance, batch) == computed
    for board, url in zip(fleet.boards, fleet.urls, strict=True):
        summary = summaries[url]
        assert summary.outcome is Outcome.PASS, summary.message
        assert summary.push_state is PushState.PUSHED
        assert summary.mac == board.mac
        steps = [(e.step, e.status) for e in events.of_port(url) if isinstance(e, StepEvent)]
        passed = [s for s, status in steps if status is StepStatus.PASSED]
        assert passed[:4] == [Step.DETECT, Step.CHECK, Step.FLASH, Step.BOOT]
        assert sorted(passed[4:], key=lambda s: s.value) == [Step.IEF, Step.PUSH]  # pushed while joining WiFi
        progress = [e for e in events.of_port(url) if isinstance(e, ProgressEvent)]
        assert progress[-1].overall_done == progress[-1].overall_total == sum(len(i.data) for i in job.images)
        results = [e for e in events.of_port(url) if isinstance(e, ResultEvent)]
        assert len(results) == 1 and results[0].outcome is Outcome.PASS
        step_events = [e for e in events.of_port(url) if isinstance(e, StepEvent)]
        (ief,) = [e for e in step_events if e.step is Step.IEF and e.status is StepStatus.PASSED]
        assert ief.facts.wifi is NetworkState.JOINED and ief.facts.ip.startswith("192.168.4.")
        detect = next(e for e in step_events if e.step is Step.DETECT and e.status is StepStatus.PASSED)
        assert (detect.facts.mac, detect.facts.chip_type, detect.facts.secure_boot) == (
            board.mac,
            "esp32c3",
            False,
        )
        assert f"joined WiFi {fleet.access_point.ssid!r}" in ief.message
    page = records.list_records()
    assert page.total == 2
    for record in page.items:
        assert record.outcome is Outcome.PASS and record.push_state is PushState.PUSHED
        assert record.batch == batch and record.task == DEV_TASK and record.chip == "ESP32-C3"
        assert record.image_sha256s == job.image_sha256s
        assert record.device_id in computed and record.operator == "station"


def test_reprovisioning_a_board_already_in_the_batch_passes(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1)
    job = _job(instance, batch, fleet).for_port(fleet.urls[0])
    first = run_jobs(instance, records, [job])[1][job.port]
    second_events, second = run_jobs(instance, records, [job])
    assert first.outcome is Outcome.PASS and second[job.port].outcome is Outcome.PASS
    assert first.device_id == second[job.port].device_id
    pushed = [
        e for e in second_events.events if isinstance(e, StepEvent) and e.step is Step.PUSH and e.message
    ]
    assert "already in batch" in pushed[-1].message


def test_device_in_another_batch_is_refused_not_lost(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory, tmp_path: Path
) -> None:
    """Another station provisioned the board (this station's records do not know it): the push is
    refused, and the refusal is recorded."""
    fleet = make_fleet(1)
    job = _job(instance, batch, fleet).for_port(fleet.urls[0])
    with RecordsDB(tmp_path / "another-station.sqlite3") as elsewhere:
        run_jobs(instance, elsewhere, [job])
    other = instance.create_batch(f"other-{secrets.token_hex(3)}").name
    second = run_jobs(instance, records, [replace(job, batch=other)])[1][job.port]
    assert second.outcome is Outcome.FAIL and second.step is Step.PUSH
    assert second.push_state is PushState.REFUSED
    assert f"already belongs to batch {batch!r}" in second.message
    assert records.list_records().items[0].push_state is PushState.REFUSED


def test_a_board_this_station_put_in_another_batch_is_refused_before_flashing(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1)
    job = _job(instance, batch, fleet).for_port(fleet.urls[0])
    first = run_jobs(instance, records, [job])[1][job.port]
    other = instance.create_batch(f"other-{secrets.token_hex(3)}").name
    written = fleet.boards[0].stages.count(Stage.FLASH_BEGIN)
    second = run_jobs(instance, records, [replace(job, batch=other)])[1][job.port]
    assert second.outcome is Outcome.FAIL and second.step is Step.CHECK
    assert second.push_state is PushState.NONE
    assert first.device_id in second.message and f"is in batch {batch!r}" in second.message
    assert "Nothing was written" in second.message
    assert fleet.boards[0].stages.count(Stage.FLASH_BEGIN) == written, "the refused board was flashed"
    assert instance.find_device(first.device_id).batch == batch  # type: ignore[union-attr]


def test_chip_mismatch_is_refused_before_flashing(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1)
    job = _job(instance, batch, fleet, task=S3_TASK).for_port(fleet.urls[0])
    summary = run_jobs(instance, records, [job])[1][job.port]
    assert summary.outcome is Outcome.FAIL and summary.step is Step.CHECK
    assert "the board is an ESP32-C3, but the task is for ESP32-S3" in summary.message
    assert not flash_was_written(fleet.boards[0])
    assert records.list_records().items[0].error.startswith("check failed:")


def test_release_on_a_chip_locked_to_another_key_is_refused(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory
) -> None:
    locked = secrets.token_bytes(32)
    fleet = make_fleet(1, faults=[Faults(locked_key_digest=locked)])
    job = _job(instance, batch, fleet, task=RELEASE_TASK, confirm_release=batch).for_port(fleet.urls[0])
    assert job.release_confirmed
    summary = run_jobs(instance, records, [job])[1][job.port]
    assert summary.outcome is Outcome.FAIL and summary.step is Step.CHECK
    assert "locked to another Secure Boot key" in summary.message
    assert f"{locked.hex()[:16]}..." in summary.message
    assert not flash_was_written(fleet.boards[0])


def test_dev_bootloader_on_a_release_chip_is_refused(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1, faults=[Faults(locked_key_digest=secrets.token_bytes(32))])
    job = _job(instance, batch, fleet).for_port(fleet.urls[0])
    summary = run_jobs(instance, records, [job])[1][job.port]
    assert summary.outcome is Outcome.FAIL and summary.step is Step.CHECK
    assert "already in release state" in summary.message
    assert not flash_was_written(fleet.boards[0])


def test_release_task_provisions_a_blank_chip(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory, station: object
) -> None:
    fleet = make_fleet(1)
    job = _job(instance, batch, fleet, task=RELEASE_TASK, confirm_release=batch).for_port(fleet.urls[0])
    summary = run_jobs(instance, records, [job])[1][job.port]
    assert summary.outcome is Outcome.PASS, summary.message
    assert summary.device_id == board_device_id(fleet.boards[0])


@pytest.mark.parametrize(
    ("stage", "step"),
    [
        (Stage.SYNC, Step.DETECT),
        (Stage.STUB, Step.FLASH),
        (Stage.FLASH_DATA, Step.FLASH),
        (Stage.MD5, Step.FLASH),
        (Stage.BOOT, Step.BOOT),  # the boot step reads the board's output from the reset
        (Stage.IEF_REQUEST, Step.BOOT),  # ... until the IEF's first request, which never came
        (Stage.DEVICE_ID, Step.IEF),
    ],
)
def test_board_vanishing_fails_that_step_only(
    stage: Stage,
    step: Step,
    instance: LocalInstance,
    batch: str,
    records: RecordsDB,
    make_fleet: FleetFactory,
) -> None:
    fleet = make_fleet(2)
    board = fleet.boards[0]
    job = replace(_job(instance, batch, fleet), timeouts=Timeouts(ief=3, boot=5))
    if stage in (Stage.BOOT, Stage.IEF_REQUEST, Stage.DEVICE_ID):  # BOOT also happens at power-on
        with after_flash(board, lambda: setattr(board.faults, "vanish_at_stage", stage)):
            events, summaries = run_jobs(instance, records, [job.for_port(url) for url in fleet.urls])
    else:
        board.faults.vanish_at_stage = stage
        events, summaries = run_jobs(instance, records, [job.for_port(url) for url in fleet.urls])
    vanished, healthy = summaries[fleet.urls[0]], summaries[fleet.urls[1]]
    assert healthy.outcome is Outcome.PASS, healthy.message
    assert vanished.outcome is Outcome.FAIL
    assert vanished.step is step, vanished.message
    assert vanished.message.startswith(f"{step.value} failed:")
    assert any(words in vanished.message for words in ("went away", "stopped answering", "was lost"))
    errors = [e for e in events.of_port(fleet.urls[0]) if isinstance(e, ErrorEvent)]
    assert errors and errors[-1].step is step
    assert _batch_ids(instance, batch) == {healthy.device_id}


def test_ief_noise_lines_are_tolerated(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1, faults=[Faults(noise_lines_every=1)])  # noise before every line
    job = _job(instance, batch, fleet).for_port(fleet.urls[0])
    _events, summaries = run_jobs(instance, records, [job])
    summary = summaries[job.port]
    assert summary.outcome is Outcome.PASS, summary.message
    assert summary.device_id == board_device_id(fleet.boards[0])


def test_garbled_uart_fails_with_a_clear_message(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory
) -> None:
    """Every third byte damaged from the reset on: no IEF request is ever readable, so the boot step
    (which waits for the firmware's first request) ends at its limit, quoting what the board printed."""
    fleet = make_fleet(1)
    job = replace(_job(instance, batch, fleet), timeouts=Timeouts(ief=3, boot=3)).for_port(fleet.urls[0])
    board = fleet.boards[0]
    with at_first_boot_after_flash(board, lambda: setattr(board.faults, "corrupt_tx_every", 3)):
        summary = run_jobs(instance, records, [job])[1][job.port]
    assert summary.outcome is Outcome.FAIL and summary.step is Step.BOOT, summary.message
    assert summary.message.startswith("boot failed: firmware did not start (the board said ")
    assert "3 s" in summary.message
    assert not summary.device_id


def test_ief_timeout_names_what_was_awaited(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1, faults=[Faults(stall_at_stage=Stage.IEF_REQUEST)])
    job = replace(_job(instance, batch, fleet), timeouts=Timeouts(ief=1.5)).for_port(fleet.urls[0])
    summary = run_jobs(instance, records, [job])[1][job.port]
    assert summary.outcome is Outcome.FAIL and summary.step is Step.IEF
    assert "1.5 s" in summary.message and "waiting for" in summary.message


def test_step_time_limit_ends_the_worker(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1, faults=[Faults(stall_at_stage=Stage.FLASH_DATA)])
    job = replace(_job(instance, batch, fleet), timeouts=Timeouts(flash=1.0)).for_port(fleet.urls[0])
    started = time.monotonic()
    summary = run_jobs(instance, records, [job])[1][job.port]
    assert time.monotonic() - started < 20
    assert summary.outcome is Outcome.FAIL and summary.step is Step.FLASH
    assert "did not finish within 1 s" in summary.message


def test_overall_timeout_stops_the_worker_and_resets_the_board(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1, faults=[Faults(stall_at_stage=Stage.FLASH_DATA)])
    job = replace(_job(instance, batch, fleet), timeouts=Timeouts(overall=2.0)).for_port(fleet.urls[0])
    _events, summaries = run_jobs(instance, records, [job])
    summary = summaries[job.port]
    assert summary.outcome is Outcome.FAIL
    assert "did not finish within 2 s" in summary.message and "was reset" in summary.message


def test_bad_image_is_refused_before_anything_is_written(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1)
    job = _job(instance, batch, fleet).for_port(fleet.urls[0])
    ief = job.images[2]
    damaged = bytearray(ief.data)
    damaged[100] ^= 0xFF
    bad = replace(ief, data=bytes(damaged), sha256=hashlib.sha256(damaged).hexdigest())
    job = replace(job, images=(*job.images[:2], bad))
    summary = run_jobs(instance, records, [job])[1][job.port]
    assert summary.outcome is Outcome.FAIL and summary.step is Step.CHECK
    assert "is not fit to flash" in summary.message and ief.name in summary.message
    assert not flash_was_written(fleet.boards[0])


def test_cancel_mid_flash_then_the_board_can_be_provisioned(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1, faults=[Faults(stall_at_stage=Stage.FLASH_DATA)])
    job = _job(instance, batch, fleet).for_port(fleet.urls[0])
    collector = Collector()
    supervisor = Supervisor(instance, records, collector)
    try:
        supervisor.start(job)
        with pytest.raises(ConflictError, match="already being provisioned"):
            supervisor.start(job)
        deadline = time.monotonic() + 30
        while Stage.FLASH_DATA not in fleet.boards[0].stages:
            assert time.monotonic() < deadline, "the flash never started"
            time.sleep(0.02)
        assert supervisor.cancel(job.port)
        assert supervisor.wait(30)
    finally:
        supervisor.close()
    (summary,) = collector.finished
    assert summary.outcome is Outcome.CANCELLED and summary.step is Step.FLASH
    assert "cancelled by the operator" in summary.message
    assert not supervisor.active_ports()
    logs = [e.text for e in collector.of_port(job.port) if isinstance(e, LogEvent)]
    assert any("was reset" in text for text in logs)
    assert records.list_records().items[0].outcome is Outcome.CANCELLED

    again = run_jobs(instance, records, [job])[1][job.port]
    assert again.outcome is Outcome.PASS, again.message
    assert again.device_id == board_device_id(fleet.boards[0])


def test_device_id_event_precedes_the_result(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1)
    job = _job(instance, batch, fleet).for_port(fleet.urls[0])
    events = run_jobs(instance, records, [job])[0].of_port(job.port)
    kinds = [type(e) for e in events]
    assert kinds.index(DeviceIdEvent) < kinds.index(ResultEvent) == len(kinds) - 1


def test_offline_instance_queues_the_push_then_flush_sends_it(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1)
    job = _job(instance, batch, fleet).for_port(fleet.urls[0])
    offline = NetworkDown(instance)
    summary = run_jobs(offline, records, [job])[1][job.port]
    assert offline.calls >= 1  # tried, then retried with a growing pause while the run went on
    assert summary.outcome is Outcome.PASS and summary.push_state is PushState.QUEUED
    assert "queued" in summary.message
    assert _batch_ids(instance, batch) == set()
    (pending,) = records.journal.outbox()
    assert (pending.batch, pending.device_id) == (batch, summary.device_id)
    assert records.list_records().items[0].push_state is PushState.QUEUED

    still_down = flush_outbox(offline, records.journal)  # type: ignore[arg-type]
    assert (still_down.pushed, still_down.still_queued) == (0, 1)
    assert records.journal.outbox()[0].attempts >= 2

    report = flush_outbox(instance, records.journal)
    assert (report.pushed, report.refused, report.still_queued) == (1, 0, 0)
    assert _batch_ids(instance, batch) == {summary.device_id} == {board_device_id(fleet.boards[0])}
    assert records.list_records().items[0].push_state is PushState.PUSHED


def test_no_secret_in_events_records_or_files(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory, tmp_path: Path
) -> None:
    fleet = make_fleet(2)
    password = fleet.access_point.password
    assert len(password) >= 8
    job = _job(instance, batch, fleet)
    failing = replace(job, images=(*job.images[:2], replace(job.images[2], offset=0x20000)))
    events, summaries = run_jobs(
        instance, records, [job.for_port(fleet.urls[0]), failing.for_port(fleet.urls[1])]
    )
    assert summaries[fleet.urls[0]].outcome is Outcome.PASS
    assert summaries[fleet.urls[1]].outcome is Outcome.FAIL
    lines = [event.to_json_line() for event in events.events]
    assert any("wifi_password" in line for line in lines)  # the exchange is logged, the value is not
    assert all(password not in line for line in lines)
    assert password not in repr(job) and password not in str(job)
    csv_file = tmp_path / "records.csv"
    records.export_csv(csv_file)
    assert password not in csv_file.read_text(encoding="utf-8")
    json_file = tmp_path / "records.json"
    assert records.export(json_file, ExportFormat.JSON) == 2
    assert password not in json_file.read_text(encoding="utf-8")
    passed, failed = (records.get(summaries[url].record_id) for url in fleet.urls)
    assert passed is not None and failed is not None
    assert passed.step == "done" and passed.step_log[-1].status == "pass"
    for record in (passed, failed):  # the step log holds the steps, with the secret nowhere in them
        assert {"detect", "check"} <= {e.step for e in record.step_log}
        assert all(password not in e.message for e in record.step_log)
    assert failed.step == summaries[fleet.urls[1]].step.value and failed.step_log[-1].status == "fail"
    for path in records.path.parent.glob(records.path.name + "*"):
        assert password.encode() not in path.read_bytes(), path


def _fake_worker(code: str) -> Callable[[], list[str]]:
    return lambda: [sys.executable, "-c", code]


def test_a_wrong_wifi_password_fails_the_board_but_its_id_is_kept(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1)
    ap = fleet.access_point
    wrong = f"not-{ap.password}"
    job = provisioning_job(instance, task=DEV_TASK, batch=batch, ssid=ap.ssid, password=wrong)
    events, summaries = run_jobs(instance, records, [job.for_port(fleet.urls[0])])
    summary = summaries[fleet.urls[0]]
    assert summary.outcome is Outcome.FAIL and summary.step is Step.IEF
    assert f"could not join WiFi {ap.ssid!r}" in summary.message
    assert "authentication failed" in summary.message  # the board's own words for why
    device_id = str(board_device_id(fleet.boards[0]))
    assert device_id in summary.message and summary.device_id == device_id
    (record,) = records.list_records().items
    assert record.outcome is Outcome.FAIL and record.device_id == device_id  # never an empty device_id
    assert record.step == "ief" and record.step_log[-1].status == "fail"
    assert any(e.step == "push" for e in record.step_log)  # the station's own steps are logged too
    assert all(wrong not in e.message for e in record.step_log)
    assert _batch_ids(instance, batch) == {device_id}  # journaled IDs only move forward
    assert all(wrong not in event.to_json_line() for event in events.events)


def test_a_worker_that_dies_without_a_result_is_a_clear_failure(
    instance: LocalInstance, batch: str, records: RecordsDB
) -> None:
    job = _job_for_port(instance, batch, "rfc2217://127.0.0.1:1")
    crash = (
        "import sys; sys.stdin.readline(); print('not json'); "
        "sys.stderr.write('Traceback: boom\\n'); sys.exit(7)"
    )
    collector = Collector()
    supervisor = Supervisor(instance, records, collector, launcher=CommandLauncher(_fake_worker(crash)))
    try:
        supervisor.start(job)
        assert supervisor.wait(30)
    finally:
        supervisor.close()
    (summary,) = collector.finished
    assert summary.outcome is Outcome.FAIL
    assert "ended without a result (exit status 7): Traceback: boom" in summary.message
    protocol = [e for e in collector.events if isinstance(e, ErrorEvent) and e.kind == "ProtocolError"]
    assert protocol and "'not json'" in protocol[0].message
    assert records.list_records().items[0].error == summary.message


def test_a_worker_that_cannot_start(instance: LocalInstance, batch: str, records: RecordsDB) -> None:
    job = _job_for_port(instance, batch, "rfc2217://127.0.0.1:1")
    collector = Collector()
    launcher = CommandLauncher(lambda: ["/nonexistent/python"])
    supervisor = Supervisor(instance, records, collector, launcher=launcher)
    try:
        supervisor.start(job)
        assert supervisor.wait(30)
    finally:
        supervisor.close()
    (summary,) = collector.finished
    assert summary.outcome is Outcome.FAIL and "could not start the port worker" in summary.message


def _job_for_port(instance: LocalInstance, batch: str, port: str):  # type: ignore[no-untyped-def]
    return provisioning_job(
        instance, task=DEV_TASK, batch=batch, ssid="net", password=secrets.token_urlsafe(12)
    ).for_port(port)


def test_a_board_that_keeps_its_wifi_says_so_in_its_facts(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory
) -> None:
    """Re-enrolled with another SSID, a board that still reaches its old network never asks for ours."""
    fleet = make_fleet(1)
    job = _job(instance, batch, fleet).for_port(fleet.urls[0])
    first, _ = run_jobs(instance, records, [job])
    again = replace(job, mode=JobMode.REENROL, images=(), wifi_ssid="another-site")
    second, summaries = run_jobs(instance, records, [again])
    assert summaries[job.port].outcome is Outcome.PASS

    def ief_facts(events: Collector) -> StepFacts:
        return next(
            e.facts for e in events.of_port(job.port)
            if isinstance(e, StepEvent) and e.step is Step.IEF and e.status is StepStatus.PASSED
        )  # fmt: skip

    assert (ief_facts(first).ssid_sent, ief_facts(first).wifi) == (True, NetworkState.JOINED)
    assert (ief_facts(second).ssid_sent, ief_facts(second).wifi) == (False, NetworkState.JOINED)
