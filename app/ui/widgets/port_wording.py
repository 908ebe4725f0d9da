"""What a port tile says about a port's typed state, and how far its progress bar is filled.

The station worker sends typed state only (app/workers/port_states.py: a state, the step under way, how
far the run got, the image being written); the words and the bar's proportions are the window's, so
they can change (or be translated) without touching the engine side.
"""

from __future__ import annotations

from app.provisioning.events import Step
from app.provisioning.pass_warning import PassWarning
from app.workers.port_states import PortSnapshot, PortState, Reached

STEP_LABELS: dict[Step, str] = {
    Step.START: "Starting",
    Step.DETECT: "Detecting the chip",
    Step.CHECK: "Checking the chip",
    Step.FLASH: "Flashing",
    Step.BOOT: "Booting",
    Step.IEF: "Enrolling (IEF)",
    Step.PUSH: "Adding to the batch",
    Step.ENROL: "Waiting for enrolment",
    Step.RECORD: "Writing the record",
    Step.DONE: "Done",
}

# Where each step starts on the tile's progress bar, and how much of the bar it fills: flashing takes
# most of a run's time, so it gets most of the bar.
BANDS: dict[Step, tuple[float, float]] = {
    Step.START: (0.0, 0.02),
    Step.DETECT: (0.02, 0.06),
    Step.CHECK: (0.08, 0.04),
    Step.FLASH: (0.12, 0.66),
    Step.BOOT: (0.78, 0.05),
    Step.IEF: (0.83, 0.14),
    Step.PUSH: (0.97, 0.02),
    Step.ENROL: (0.99, 0.01),
    Step.RECORD: (1.0, 0.0),
    Step.DONE: (1.0, 0.0),
}


# Why a pass is amber: a short line for the tile, and the whole story for the drawer. The snapshot
# carries the typed reason; the words are the window's.
WARNINGS: dict[PassWarning, tuple[str, str]] = {
    PassWarning.KEPT_WIFI: (
        "Joined the WiFi it had kept, not the one given",
        "The board joined the WiFi network it had kept from an earlier run and never asked for the one "
        "given, so that network was not sent: it may not join at its destination. To change it, erase the "
        "board's flash (esptool erase-flash) and provision it again.",
    ),
    PassWarning.WIFI_UNCONFIRMED: (
        "WiFi not confirmed: no address seen",
        "The board printed no network address in time, so the station cannot say it joined the WiFi "
        "(a release IEF may log nothing). Check that it reaches the instance.",
    ),
    PassWarning.ENROLMENT_UNCONFIRMED: (
        "Enrolment not confirmed: offline",
        "The DeviceID is in the batch (or queued for it), but the instance could not be asked whether the "
        "board enrolled: the station is offline. Look at the board on the Devices page once it is back.",
    ),
}


def step_label(step: Step) -> str:
    return STEP_LABELS.get(step, step.value)


def step_text(snap: PortSnapshot) -> str:
    """The line under the tile's badge: what the board is doing, or how its run ended."""
    state = snap.state
    if state is PortState.READY:
        return "Not started" if snap.refused else "Ready"
    if state is PortState.PASS:
        return enrolled_text(snap.enrolled_firmware) if snap.enrolled_firmware is not None else "Provisioned"
    if state is PortState.WARNING:
        return WARNINGS[snap.warning][0] if snap.warning is not None else "Passed with a warning"
    if state.finished:
        verb = "Cancelled" if state is PortState.CANCELLED else "Failed"
        where = snap.stopped_at
        if where is None or where is Step.DONE:
            return verb
        label = step_label(where)
        return f"{verb} while {label[:1].lower()}{label[1:]}"
    if state is PortState.RUNNING and snap.image is not None:
        image = snap.image
        return f"Flashing {image.name} ({image.index + 1}/{image.count}) · {int(100 * image.done)}%"
    if state is PortState.RUNNING and snap.step is not None:
        return step_label(snap.step)
    return "Preparing the job…"


def enrolled_text(firmware: str) -> str:
    """A pass the instance confirmed: the board enrolled, running the firmware it reported."""
    return f"Enrolled, firmware {firmware}" if firmware else "Enrolled"


def bar_fraction(reached: Reached | None) -> float:
    """How much of the progress bar a run that got this far fills (0..1)."""
    if reached is None:
        return 0.0
    start, width = BANDS[reached.step]
    return start + width * reached.done


def reason_text(snap: PortSnapshot) -> tuple[str, str]:
    """What the tile's reason line says, and the whole text one click away (the drawer's heading)."""
    step, message, state = step_text(snap), snap.message, snap.state
    if state is PortState.WARNING and snap.warning is not None:
        short, whole = WARNINGS[snap.warning]
        return short, f"{whole}\n\n{message}" if message else whole
    if message and state in (PortState.FAIL, PortState.READY):
        return f"{step}: {message}", f"{step}:\n{message}"
    return step, f"{step}\n{message}" if message else step
