"""`python -m app port-worker`: one board's pipeline in its own process.

The station starts one of these per port and writes the job (JSON, one line) to its stdin, which it keeps
open to confirm the DeviceID when it comes (app/provisioning/station_replies.py). The worker answers with
one JSON event per line on stdout and exits 0 when the board passed, 1 when it failed, 2 when the job
itself was unusable, 3 when a step overran its time limit.

Stdout belongs to the event stream alone: before anything else runs, the worker keeps a private copy of
it and points file descriptor 1 (and `sys.stdout`) at stderr, so a stray print from any library ends
up in the station's worker log rather than corrupting the stream. esptool's process-wide logger is then
replaced by ours before esptool is imported (app.flashing.esptool_runtime does both, in that order).
"""

from __future__ import annotations

import os
import sys
from typing import BinaryIO, TextIO

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_BAD_JOB = 2
EXIT_STEP_TIMEOUT = 3
EXIT_CANCELLED = 4
UNKNOWN_PORT = "?"


def take_over_stdout() -> TextIO:
    """A private text stream on the real stdout; fd 1 and sys.stdout now lead to stderr."""
    sys.stdout.flush()
    events_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(events_fd, "w", encoding="utf-8", newline="\n", buffering=1)


def preload() -> None:
    """Import esptool the station's way (our logger first) and everything a job needs.

    The fork server calls this once for all the workers it forks; a worker started on its own calls it
    first thing. Either way esptool is never imported before the logger is ours.
    """
    from app.flashing import esptool_runtime  # noqa: F401  (installs our logger, then imports esptool)
    from app.provisioning import event_writer, pipeline, serial_urls, station_replies, step_guard  # noqa: F401

    serial_urls.install()
    # What pyserial imports on a worker's first open of an rfc2217:// URL (the handler, and through it
    # logging, queue and the IDNA codec a host name is encoded with): ~20 ms of CPU in every forked worker
    # when left to the worker, once in the fork server when done here.
    from app.provisioning.serial_urls import protocol_rfc2217  # noqa: F401

    "localhost".encode("idna")


def main(job_input: BinaryIO | None = None, events: TextIO | None = None) -> int:
    """Run one job. Reads the job from `job_input` (stdin), writes events to `events` (the real stdout)."""
    esptool_was_loaded = "esptool" in sys.modules and "app.flashing.esptool_runtime" not in sys.modules
    preload()
    stream = events if events is not None else take_over_stdout()
    source = job_input if job_input is not None else sys.stdin.buffer

    from app.domain.errors import StationError
    from app.provisioning.event_writer import EventWriter
    from app.provisioning.events import Outcome, ResultEvent, Step, StepStatus
    from app.provisioning.job import PortJob, Redactor
    from app.provisioning.pipeline import Pipeline
    from app.provisioning.station_replies import StationReplies
    from app.provisioning.step_guard import WatchdogGuard

    def write_line(line: str) -> None:
        try:
            stream.write(line + "\n")
            stream.flush()
        except (BrokenPipeError, ValueError):
            os._exit(EXIT_FAIL)  # the station is gone; nobody is left to tell

    replies = StationReplies(source)
    try:
        job = PortJob.from_json(replies.job_line())
    except StationError as error:
        writer = EventWriter(UNKNOWN_PORT, write_line, Redactor())
        message = f"the port worker could not read its job: {error}"
        writer.error(Step.START, message, type(error).__name__)
        writer.emit(ResultEvent(port=UNKNOWN_PORT, outcome=Outcome.FAIL, duration_s=0.0, message=message))
        return EXIT_BAD_JOB

    writer = EventWriter(job.port, write_line, Redactor(job.wifi_password))
    if esptool_was_loaded:
        writer.log("esptool was imported before the station's logger; some esptool warnings go to stderr")

    def on_timeout(step: Step, seconds: float) -> None:
        message = f"{step.value} failed: the step did not finish within {seconds:g} s"
        writer.step(step, StepStatus.FAILED, message)
        writer.error(step, message, "StepTimeoutError")
        writer.emit(
            ResultEvent(port=job.port, outcome=Outcome.FAIL, duration_s=0.0, message=message, step=step)
        )
        sys.stderr.flush()
        os._exit(EXIT_STEP_TIMEOUT)

    guard = WatchdogGuard(on_timeout)
    try:
        result = Pipeline(job, writer, guard, replies.confirm, replies.vet).run()
    finally:
        guard.close()
    if result.outcome is Outcome.PASS:
        return EXIT_PASS
    return EXIT_CANCELLED if result.outcome is Outcome.CANCELLED else EXIT_FAIL


if __name__ == "__main__":
    raise SystemExit(main())
