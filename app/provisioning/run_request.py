"""What a person asked to provision with: task, batch, WiFi, the typed release confirmation, and what the
run overrides of the task's run options (baud, wait for enrolment).

One type from the Start provisioning dialog to the station worker and the command line, so nothing is
copied field by field between look-alike classes on the way. It is plain, frozen data: it names the
task, it does not copy it, so production mode (which keeps the request armed) builds each board's job
from the task as it is when the board is plugged in. `job_builder.job_for_request` turns it into a
`PortJob`; every check that needs the instance (the batch and task exist, the confirmation matches)
happens there.

The password never shows in `repr()`/`str()`, so a request can be logged or put in an error safely.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from app.provisioning.job import AUTO_BAUD, MASK


@dataclass(frozen=True, repr=False)
class RunRequest:
    task: str
    batch: str
    ssid: str
    password: str = field(repr=False)
    confirm_release: str | None = None  # the batch name as typed, for a release-bootloader task
    baud: int | None = None  # set for this run (AUTO_BAUD: by USB bridge); None: as the task says
    reenrol: bool = False  # nothing is flashed: the board's IEF is served again (`task`: its wait only)
    enrol_wait_s: float | None = None  # set for this run (0: do not wait); None: as the task says
    default_baud: int = AUTO_BAUD  # the station's rate when neither the run nor the task sets one

    def __repr__(self) -> str:
        return (
            f"RunRequest(task={self.task!r}, batch={self.batch!r}, ssid={self.ssid!r}, "
            f"password={MASK if self.password else ''!r}, confirm_release={self.confirm_release!r}, "
            f"baud={self.baud}, reenrol={self.reenrol}, enrol_wait_s={self.enrol_wait_s}, "
            f"default_baud={self.default_baud})"
        )

    __str__ = __repr__

    def describe(self) -> str:
        if self.reenrol:
            return f"re-enrolment into batch {self.batch!r}"
        return f"task {self.task!r} into batch {self.batch!r}"

    def for_reenrol(self, batch: str) -> RunRequest:
        """Re-enrolment with this request's WiFi into `batch` (a board from the records, say). The task
        stays only to lend its wait for enrolment (nothing of it is flashed, and the job names no task)."""
        return replace(self, batch=batch, confirm_release=None, reenrol=True)

    def confirmed(self, typed: str | None, default_baud: int) -> RunRequest:
        """This request as it is run: with the confirmation the person typed and the station's baud (used
        when the task sets no rate of its own)."""
        return replace(self, confirm_release=typed, default_baud=default_baud)
