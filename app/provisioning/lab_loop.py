"""The lab's re-provision loop as one action: reset a dev board's virtual eFuses, then provision it.

A veFuse board provisioned with key A refuses key B ("chip locked to another key") until its virtual
eFuses are erased; an engineer cycling keys and images wants both as one step. The refusals come first,
before anything is changed: a release task is refused (the loop would burn real eFuses for good), and
the bench refuses a board that is not a dev build or whose real Secure Boot eFuses are burned. The
re-flash then writes only the sectors that changed (app/flashing/flash_diff.py), so the loop is quick.

The window's Board page and `ql-station board reprovision` both run this, off the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.domain.errors import ConflictError
from app.domain.kinds import BootloaderKind
from app.flashing.board_bench import BoardBench
from app.instance.api import Instance
from app.ports.reservation import reserve_port
from app.provisioning.job import PortJob
from app.provisioning.records import RecordsDB
from app.provisioning.supervisor import PortSummary, Supervisor, SupervisorListener


@dataclass(frozen=True)
class LabLoopOutcome:
    reset_message: str  # what the virtual eFuse reset did
    summary: PortSummary | None  # the provisioning run's outcome (None: it never reported one)


def check_dev_task(task: str, bootloader: BootloaderKind | None) -> None:
    """Refuse before anything else is asked: a release task has no place in the loop."""
    if bootloader is not BootloaderKind.DEV:
        kind = bootloader.value if bootloader is not None else "no"
        raise ConflictError(
            f"the re-provision loop takes a dev (veFuse) task; task {task!r} has a {kind} bootloader, "
            "which would burn the chip's real eFuses for good. Use `provision` for that"
        )


def reset_and_provision(
    data_dir: Path,
    instance: Instance,
    records: RecordsDB,
    job: PortJob,
    confirm_mac: str,
    listener: SupervisorListener,
    on_reset: Callable[[str], None] = lambda message: None,
) -> LabLoopOutcome:
    """Erase the virtual eFuses of the board on `job.port` (typed MAC confirmed), then run `job` on it."""
    check_dev_task(job.task, job.bootloader)
    with (
        reserve_port(data_dir, job.port, "ql-station board reprovision"),
        BoardBench.open(job.port) as bench,
    ):
        message = bench.reset_vefuses(confirm_mac)
    on_reset(message)
    supervisor = Supervisor(instance, records, listener, data_dir=data_dir, holder="ql-station reprovision")
    try:
        supervisor.start_all([job])
        supervisor.wait()
    finally:
        supervisor.close()
    summaries = supervisor.summaries()
    return LabLoopOutcome(message, summaries[0] if summaries else None)
