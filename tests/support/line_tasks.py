"""The dev and release ESP32-C3 tasks (and their key) that the Station page's and the station worker's
tests provision with. They do not wait for enrolment: those runs are about the line, not the server
(tests/ui/test_station_enrolment.py turns the wait on)."""

from __future__ import annotations

from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, IefKind, KeyType
from app.domain.run_options import TaskRunOptions
from app.instance.api import Instance

NO_ENROL_WAIT = TaskRunOptions(enrol_wait_s=0)


def create_line_tasks(instance: Instance, dev_task: str, release_task: str, key: str = "line-key") -> None:
    instance.create_signing_key(key, KeyType.RSA_3072)
    for name, bootloader, ief in (
        (dev_task, BootloaderKind.DEV, IefKind.DEBUG),
        (release_task, BootloaderKind.RELEASE, IefKind.NON_DEBUG),
    ):
        instance.create_task(name, ChipType.ESP32C3, bootloader, ief, key, run_options=NO_ENROL_WAIT)
