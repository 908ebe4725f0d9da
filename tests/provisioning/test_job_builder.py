"""What is refused before any worker starts: release confirmation, unknown names, bad WiFi, bad baud."""

from __future__ import annotations

import secrets
from dataclasses import replace

import pytest

from app.domain.errors import NotFoundError, ValidationError
from app.domain.run_options import DEFAULT_ENROL_WAIT_S, TaskRunOptions
from app.flashing.flash_errors import ReleaseConfirmationError
from app.instance.local.instance import LocalInstance
from app.provisioning.job import AUTO_BAUD, JobMode
from app.provisioning.job_builder import job_for_request, provisioning_job, reenrol_job
from app.provisioning.run_request import RunRequest

from .conftest import DEV_TASK, RELEASE_TASK, Station


def _password() -> str:
    return secrets.token_urlsafe(12)


def test_dev_job_carries_the_signed_images(instance: LocalInstance, batch: str, station: Station) -> None:
    password = _password()
    job = provisioning_job(instance, task=DEV_TASK, batch=batch, ssid="net", password=password)
    assert job.mode is JobMode.PROVISION and job.batch == batch and not job.release_confirmed
    assert [i.kind.value for i in job.images] == ["bootloader", "partition-table", "ief"]
    assert job.key_digest_hex == station.key_digest_hex
    assert job.instance == instance.instance_params()
    assert job.for_port("rfc2217://x:1").port == "rfc2217://x:1"


def test_release_needs_the_batch_name_typed(instance: LocalInstance, batch: str) -> None:
    with pytest.raises(ReleaseConfirmationError) as missing:
        provisioning_job(instance, task=RELEASE_TASK, batch=batch, ssid="net", password=_password())
    assert f"confirm by typing exactly: {batch}" in str(missing.value)
    with pytest.raises(ReleaseConfirmationError) as wrong:
        provisioning_job(
            instance, task=RELEASE_TASK, batch=batch, ssid="net", password=_password(), confirm_release="yes"
        )
    assert f"expected exactly {batch!r}, got 'yes'" in str(wrong.value)
    job = provisioning_job(
        instance, task=RELEASE_TASK, batch=batch, ssid="net", password=_password(), confirm_release=batch
    )
    assert job.release_confirmed


def test_release_is_refused_before_the_instance_signs_anything(instance: LocalInstance, batch: str) -> None:
    before = instance.list_activity().total
    with pytest.raises(ReleaseConfirmationError):
        provisioning_job(instance, task=RELEASE_TASK, batch=batch, ssid="net", password=_password())
    assert instance.list_activity().total == before


def test_unknown_names(instance: LocalInstance, batch: str) -> None:
    with pytest.raises(NotFoundError, match="no-such-batch"):
        provisioning_job(instance, task=DEV_TASK, batch="no-such-batch", ssid="n", password=_password())
    with pytest.raises(NotFoundError, match="no-such-task"):
        provisioning_job(instance, task="no-such-task", batch=batch, ssid="n", password=_password())


def test_bad_wifi_and_baud(instance: LocalInstance, batch: str) -> None:
    with pytest.raises(ValidationError, match="8 to 63 characters"):
        provisioning_job(instance, task=DEV_TASK, batch=batch, ssid="n", password="short")
    with pytest.raises(ValidationError, match="one of 115200"):
        provisioning_job(instance, task=DEV_TASK, batch=batch, ssid="n", password=_password(), baud=12345)


def test_reenrol_job(instance: LocalInstance, batch: str) -> None:
    job = reenrol_job(instance, batch=batch, ssid="net", password=_password())
    assert job.mode is JobMode.REENROL and job.images == () and job.device_type is None


def test_a_reenrol_request_builds_a_reenrol_job(instance: LocalInstance, batch: str) -> None:
    password = _password()
    chosen = RunRequest(DEV_TASK, "line-elsewhere", "net", password, confirm_release="x")
    request = chosen.for_reenrol(batch)
    assert (request.batch, request.confirm_release, request.reenrol) == (batch, None, True)
    assert request.describe() == f"re-enrolment into batch {batch!r}" and password not in repr(request)
    job = job_for_request(instance, request)
    assert job.mode is JobMode.REENROL and job.batch == batch and job.images == () and job.task == ""
    assert job.wifi_password == password
    with pytest.raises(NotFoundError, match="no-such-batch"):
        job_for_request(instance, chosen.for_reenrol("no-such-batch"))


def test_a_reenrolment_waits_for_enrolment_as_the_chosen_task_or_the_run_says(
    instance: LocalInstance, batch: str
) -> None:
    """A re-enrolment's PASS means enrolled too: the window's chosen task lends its wait, the run (CLI)
    can set its own, and with no task at all the default a new task gets applies."""
    task = instance.get_task(DEV_TASK)
    chosen = RunRequest(DEV_TASK, "line-elsewhere", "net", _password())
    _set_run_options(instance, TaskRunOptions(enrol_wait_s=45))
    try:
        assert job_for_request(instance, chosen.for_reenrol(batch)).enrol_wait_s == 45
        assert job_for_request(instance, replace(chosen, enrol_wait_s=7).for_reenrol(batch)).enrol_wait_s == 7
        no_task = replace(chosen, task="").for_reenrol(batch)
        assert job_for_request(instance, no_task).enrol_wait_s == DEFAULT_ENROL_WAIT_S
        gone = replace(chosen, task="deleted-since").for_reenrol(batch)
        assert job_for_request(instance, gone).enrol_wait_s == DEFAULT_ENROL_WAIT_S
    finally:
        _set_run_options(instance, task.run_options)
    assert reenrol_job(instance, batch=batch, ssid="n", password=_password()).enrol_wait_s > 0


def test_the_run_takes_the_tasks_run_options_unless_it_sets_its_own(
    instance: LocalInstance, batch: str
) -> None:
    """Rate: the run's, else the task's, else the station's default; wait: the run's, else the task's."""
    task = instance.get_task(DEV_TASK)
    request = RunRequest(DEV_TASK, batch, "net", _password())
    plain = job_for_request(instance, request)
    assert (plain.baud, plain.enrol_wait_s) == (AUTO_BAUD, task.run_options.enrol_wait_s)
    assert job_for_request(instance, request.confirmed(None, 460800)).baud == 460800, "the station's default"
    _set_run_options(instance, TaskRunOptions(enrol_wait_s=45, flash_baud=230400))
    try:
        by_task = job_for_request(instance, request.confirmed(None, 460800))
        assert (by_task.baud, by_task.enrol_wait_s) == (230400, 45), (
            "the task's options win over the station's"
        )
        forced = job_for_request(instance, replace(request, baud=AUTO_BAUD, enrol_wait_s=0))
        assert (forced.baud, forced.enrol_wait_s) == (AUTO_BAUD, 0), "the run's own (CLI) override both"
    finally:
        _set_run_options(instance, task.run_options)


def _set_run_options(instance: LocalInstance, options: TaskRunOptions) -> None:
    task = instance.get_task(DEV_TASK)
    instance.update_task(
        DEV_TASK, task.device_type, task.bootloader, task.ief, task.signing_key, run_options=options
    )
