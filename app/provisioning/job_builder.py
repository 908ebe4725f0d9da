"""Turn what a person chose (a `RunRequest`: task, batch, WiFi, confirmation) into every port's job.

Everything that can be refused without a board is refused here, once, before any worker starts: an
unknown batch or task, bad WiFi values, a missing or wrong release confirmation, images unfit for the
chip. The instance signs the images once per run; every port gets the same bytes.
"""

from __future__ import annotations

from app.domain.errors import NotFoundError, ValidationError
from app.domain.kinds import BootloaderKind
from app.domain.run_options import DEFAULT_ENROL_WAIT_S
from app.flashing.flash_checks import check_release_confirmation, expected_release_confirmation
from app.instance.api import Instance
from app.provisioning.job import (
    AUTO_BAUD,
    DEFAULT_BAUD,
    FLASH_BAUDS,
    ConnectReset,
    JobMode,
    PortJob,
    Timeouts,
    validate_wifi,
)
from app.provisioning.preflight import check_job_images
from app.provisioning.run_request import RunRequest

PLACEHOLDER_PORT = ""


def provisioning_job(
    instance: Instance,
    *,
    task: str,
    batch: str,
    ssid: str,
    password: str,
    confirm_release: str | None = None,
    baud: int | None = DEFAULT_BAUD,
    timeouts: Timeouts | None = None,
    connect_reset: ConnectReset = ConnectReset.DEFAULT,
    enrol_wait_s: float | None = 0.0,
) -> PortJob:
    """The job for `task` into `batch`; call `.for_port(url)` for each board (`job_for_request` by fields).
    `baud` and `enrol_wait_s` None take the task's own run options."""
    request = RunRequest(task, batch, ssid, password, confirm_release, baud, enrol_wait_s=enrol_wait_s)
    return job_for_request(instance, request, timeouts=timeouts, connect_reset=connect_reset)


def job_for_request(
    instance: Instance,
    request: RunRequest,
    *,
    timeouts: Timeouts | None = None,
    connect_reset: ConnectReset = ConnectReset.DEFAULT,
) -> PortJob:
    """The job for `request`; call `.for_port(url)` for each board."""
    if request.reenrol:
        return reenrol_job(
            instance,
            batch=request.batch,
            ssid=request.ssid,
            password=request.password,
            timeouts=timeouts,
            enrol_wait_s=_reenrol_wait(instance, request),
        )
    ssid, password = request.ssid, request.password
    validate_wifi(ssid, password)
    batch_name = instance.get_batch(request.batch).name
    task_record = instance.get_task(request.task)
    options = task_record.run_options
    baud = _run_baud(request, options.flash_baud)
    enrol_wait_s = options.enrol_wait_s if request.enrol_wait_s is None else request.enrol_wait_s
    if task_record.bootloader is BootloaderKind.RELEASE:
        check_release_confirmation(request.confirm_release, expected_release_confirmation(batch_name))
    images = instance.task_images(task_record.name)
    check_job_images(images.images, images.device_type, images.bootloader_kind, images.key_digest_hex)
    return PortJob(
        mode=JobMode.PROVISION,
        port=PLACEHOLDER_PORT,
        batch=batch_name,
        task=task_record.name,
        device_type=images.device_type,
        bootloader=images.bootloader_kind,
        key_digest_hex=images.key_digest_hex,
        images=images.images,
        instance=instance.instance_params(),
        wifi_ssid=ssid,
        wifi_password=password,
        baud=baud,
        release_confirmed=images.bootloader_kind is BootloaderKind.RELEASE,
        connect_reset=connect_reset,
        timeouts=timeouts or Timeouts(),
        enrol_wait_s=enrol_wait_s,
    )


def reenrol_job(
    instance: Instance,
    *,
    batch: str,
    ssid: str,
    password: str,
    timeouts: Timeouts | None = None,
    enrol_wait_s: float = DEFAULT_ENROL_WAIT_S,
) -> PortJob:
    """Serve a board that already runs its IEF: new WiFi, this instance, DeviceID into `batch`; then,
    like a provisioning run, wait up to `enrol_wait_s` for the board to reconnect and be Enrolled."""
    validate_wifi(ssid, password)
    batch_name = instance.get_batch(batch).name
    return PortJob(
        mode=JobMode.REENROL,
        port=PLACEHOLDER_PORT,
        batch=batch_name,
        task="",
        device_type=None,
        bootloader=None,
        key_digest_hex="",
        images=(),
        instance=instance.instance_params(),
        wifi_ssid=ssid,
        wifi_password=password,
        timeouts=timeouts or Timeouts(),
        enrol_wait_s=enrol_wait_s,
    )


def _reenrol_wait(instance: Instance, request: RunRequest) -> float:
    """The run's own wait, else that of the task the request came with (the window's chosen task),
    else the default a new task gets: a re-enrolment's PASS means enrolled, as a provisioning's does."""
    if request.enrol_wait_s is not None:
        return request.enrol_wait_s
    if not request.task:
        return DEFAULT_ENROL_WAIT_S
    try:
        return instance.get_task(request.task).run_options.enrol_wait_s
    except NotFoundError:  # the task was deleted since it was chosen; re-enrolment does not need it
        return DEFAULT_ENROL_WAIT_S


def _run_baud(request: RunRequest, task_baud: int | None) -> int:
    """The run's own rate, else the task's, else the station's default (AUTO_BAUD: by USB bridge)."""
    for baud in (request.baud, task_baud):
        if baud is not None:
            _check_baud(baud)
            return baud
    _check_baud(request.default_baud)
    return request.default_baud


def _check_baud(baud: int) -> None:
    if baud != AUTO_BAUD and baud not in FLASH_BAUDS:
        accepted = ", ".join(str(b) for b in FLASH_BAUDS)
        raise ValidationError(f"flashing baud rate must be one of {accepted} (or automatic); got {baud}")
