"""How a task's boards are run, stored with the task: the wait for enrolment and the flashing rate.

They live with the task (not in one station's preferences) because they belong to the product being
made: a line for one product waits for enrolment, a lab task may not; a board design with a slow USB
bridge is flashed at its own rate. A run can still override both (`provision --enrol-wait`, `--baud`).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.errors import ValidationError

FLASH_BAUDS = (115200, 230400, 460800, 921600, 1500000, 2000000)
"""The rates esptool switches to for flashing; 115200 is the ROM's own (no switch at all)."""
DEFAULT_ENROL_WAIT_S = 60.0
MAX_ENROL_WAIT_S = 3600.0


def check_enrol_wait(seconds: float) -> float:
    """A wait for enrolment in seconds: 0 (do not wait) to an hour."""
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not 0 <= seconds <= MAX_ENROL_WAIT_S
    ):
        raise ValidationError(
            f"the wait for enrolment must be 0 (do not wait) to {MAX_ENROL_WAIT_S:g} seconds; got {seconds!r}"
        )
    return float(seconds)


def check_flash_baud(baud: int | None) -> int | None:
    """A fixed flashing rate from FLASH_BAUDS, or None: chosen per board from its USB bridge."""
    if baud is not None and (isinstance(baud, bool) or baud not in FLASH_BAUDS):
        accepted = ", ".join(str(b) for b in FLASH_BAUDS)
        raise ValidationError(f"the flashing rate must be one of {accepted}, or automatic; got {baud!r}")
    return baud


@dataclass(frozen=True)
class TaskRunOptions:
    """`enrol_wait_s`: after the DeviceID push, how long a run waits for the instance to report the board
    Enrolled (0: PASS at the push, as before). `flash_baud`: None flashes each board at the fastest rate its
    USB bridge carries; a number fixes the rate (a failing write still falls back once to a lower one)."""

    enrol_wait_s: float = DEFAULT_ENROL_WAIT_S
    flash_baud: int | None = None

    def __post_init__(self) -> None:
        check_enrol_wait(self.enrol_wait_s)
        check_flash_baud(self.flash_baud)

    def describe(self) -> str:
        wait = (
            f"waits {self.enrol_wait_s:g} s for enrolment"
            if self.enrol_wait_s
            else "does not wait for enrolment"
        )
        rate = f"flashes at {self.flash_baud} baud" if self.flash_baud else "flashes at the USB bridge's rate"
        return f"{wait}, {rate}"
