"""Boards that cannot start their firmware fail at the boot step, named, not after the IEF's wait.

Each virtual board plays one `BootFailure` as a real board prints it (app/sim/boot.py); the real port
worker resets it after flashing and reads what the ROM and bootloader say.
"""

from __future__ import annotations

from dataclasses import replace

from app.instance.local.instance import LocalInstance
from app.provisioning.boot_watch import BootFault
from app.provisioning.events import ErrorEvent, Outcome, Step, StepEvent, StepStatus
from app.provisioning.job import Timeouts
from app.provisioning.job_builder import provisioning_job
from app.provisioning.records import RecordsDB
from app.sim.faults import BootFailure, Faults, Stage

from .conftest import DEV_TASK, FleetFactory, run_jobs

EXPECTED = {
    BootFailure.SECURE_BOOT: BootFault.SECURE_BOOT,
    BootFailure.INVALID_HEADER: BootFault.INVALID_HEADER,
    BootFailure.FLASH_READ: BootFault.FLASH_READ,
    BootFailure.BROWNOUT: BootFault.BROWNOUT,
    BootFailure.WATCHDOG: BootFault.WATCHDOG,
    BootFailure.PANIC: BootFault.PANIC,
    BootFailure.SILENT: BootFault.SILENT,
    BootFailure.DOWNLOAD_MODE: BootFault.DOWNLOAD_MODE,
}


def test_each_boot_failure_fails_the_boot_step_with_its_reason(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory
) -> None:
    failures = list(EXPECTED)
    fleet = make_fleet(len(failures) + 1, faults=[Faults(boot_failure=f) for f in failures])
    ap = fleet.access_point
    job = provisioning_job(instance, task=DEV_TASK, batch=batch, ssid=ap.ssid, password=ap.password)
    job = replace(job, timeouts=Timeouts(boot=20, ief=60))  # long limits: only a named verdict is quick
    events, summaries = run_jobs(instance, records, [job.for_port(url) for url in fleet.urls])
    for failure, url in zip(failures, fleet.urls, strict=False):
        summary = summaries[url]
        assert summary.outcome is Outcome.FAIL, (failure, summary.message)
        assert summary.step is Step.BOOT, (failure, summary.message)
        assert summary.message.startswith(f"boot failed: {EXPECTED[failure].value}"), summary.message
        errors = [e for e in events.of_port(url) if isinstance(e, ErrorEvent)]
        assert errors[-1].step is Step.BOOT and errors[-1].kind == "BootFailedError"
        assert not summary.device_id
    healthy = summaries[fleet.urls[-1]]
    assert healthy.outcome is Outcome.PASS, healthy.message
    boot = next(
        e
        for e in events.of_port(fleet.urls[-1])
        if isinstance(e, StepEvent) and e.step is Step.BOOT and e.status is StepStatus.PASSED
    )
    assert "IEF is asking" in boot.message


def test_a_panic_while_the_ief_runs_ends_the_ief_step_at_once(
    instance: LocalInstance, batch: str, records: RecordsDB, make_fleet: FleetFactory
) -> None:
    """The boot was fine; the app crashes later: the same watch stops the IEF step, naming the panic."""
    fleet = make_fleet(1)
    board = fleet.boards[0]
    ap = fleet.access_point
    job = provisioning_job(instance, task=DEV_TASK, batch=batch, ssid=ap.ssid, password=ap.password)
    job = replace(job, timeouts=Timeouts(ief=60)).for_port(fleet.urls[0])
    original = board._on_stage

    def on_stage(stage, ctx):  # type: ignore[no-untyped-def]
        if stage is Stage.DEVICE_ID:
            ctx.write(b"Guru Meditation Error: Core  0 panic'ed (StoreProhibited).\r\n")
            ctx.halt()
        original(stage, ctx)

    board._on_stage = on_stage  # type: ignore[method-assign]
    _events, summaries = run_jobs(instance, records, [job])
    summary = summaries[job.port]
    assert summary.outcome is Outcome.FAIL and summary.step is Step.IEF, summary.message
    assert "firmware panic" in summary.message and "StoreProhibited" in summary.message
