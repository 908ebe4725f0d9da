"""`ql-station provision`: provision the boards on some ports (or all of them) with a task, into a batch.

    ql-station provision --task T --batch B --ssid S --password-stdin (--port URL ... | --all)
                         [--confirm-release TEXT] [--baud auto|RATE] [--json]
                         [--enrol-wait SECONDS | --no-wait-enrolled]

The WiFi password is read from stdin (never from argv, where other users of the computer can see it).
A release bootloader burns eFuses for good, so a release task needs `--confirm-release` with the batch
name typed exactly; without it nothing is flashed. The baud rate and the wait for enrolment are the task's
(`task create/update --baud/--enrol-wait`) unless given here; while a run waits for enrolment on the
built-in instance, the command serves the instance's enrolment service itself (as the window does).
Human output is one line per step per port and a summary table (on a terminal, a live table of every
port's step and flash percent instead of the step lines); `--json` prints the engine's event stream, one
JSON object per line. The exit status is 0 only when every board passed.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TextIO

from app.cli.context import CliContext, decode_secret, read_stdin_secret
from app.cli.live_progress import LivePrinter, RunPrinter, is_live_terminal
from app.cli.run_output import HumanPrinter, JsonPrinter
from app.domain.errors import ValidationError
from app.enrolment.runner import start_for_station
from app.instance.api import Instance
from app.ports.discovery import list_all_ports
from app.provisioning.device_journal import JournalState
from app.provisioning.device_push import flush_outbox
from app.provisioning.events import LogEvent, LogSource, Outcome
from app.provisioning.job import AUTO_BAUD, DEFAULT_BAUD, FLASH_BAUDS, PortJob
from app.provisioning.job_builder import job_for_request
from app.provisioning.records import RecordsDB
from app.provisioning.run_request import RunRequest
from app.provisioning.supervisor import Supervisor

EXIT_ALL_PASSED = 0
EXIT_SOME_FAILED = 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("provision", help="flash and enrol the boards on some ports (or all of them)")
    parser.add_argument("--task", required=True, help="provisioning task name")
    parser.add_argument("--batch", required=True, help="batch the boards' DeviceIDs are added to")
    add_wifi_arguments(parser)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", action="append", metavar="URL", help="serial port or URL (repeatable)")
    where.add_argument("--all", action="store_true", help="every port with a likely ESP32 board on it")
    parser.add_argument(
        "--confirm-release",
        metavar="TEXT",
        help="for a release task: the batch name, typed exactly (a release bootloader burns eFuses)",
    )
    parser.add_argument(
        "--baud",
        type=_baud,
        default=None,
        metavar="auto|RATE",
        help=(
            f"flash at this rate ({', '.join(map(str, FLASH_BAUDS))}) or auto: the fastest each port's USB "
            f"bridge carries, by its USB VID/PID ({DEFAULT_BAUD} when not known); default: the task's rate"
        ),
    )
    parser.add_argument("--json", action="store_true", help="print the event stream as JSON lines")
    add_enrol_wait_arguments(parser, "the task's wait")
    parser.set_defaults(handler=provision_command)


def add_enrol_wait_arguments(parser: argparse.ArgumentParser, default: str) -> None:
    """`--enrol-wait SECONDS | --no-wait-enrolled` (into `args.enrol_wait`; None: `default` applies)."""
    wait = parser.add_mutually_exclusive_group()
    for option in ("--enrol-wait", "--wait-enrolled"):  # --wait-enrolled: the earlier name, kept working
        wait.add_argument(
            option,
            dest="enrol_wait",
            type=float,
            default=None,
            metavar="SECONDS",
            help="after the push, wait up to this long for the instance to report each board Enrolled; a "
            f"board that does not enrol fails (default: {default})"
            if option == "--enrol-wait"
            else argparse.SUPPRESS,
        )
    wait.add_argument(
        "--no-wait-enrolled",
        dest="enrol_wait",
        action="store_const",
        const=0.0,
        help="pass at the push, without waiting for the boards to enrol",
    )


def _baud(text: str) -> int:
    if text.strip().lower() == "auto":
        return AUTO_BAUD
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a baud rate (a number, or auto)") from None
    if value not in FLASH_BAUDS:
        raise argparse.ArgumentTypeError(
            f"{value} is not a flashing rate esptool uses; pick one of {', '.join(map(str, FLASH_BAUDS))}"
        )
    return value


def add_wifi_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ssid", required=True, help="WiFi network the boards join")
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the WiFi password from the first line of stdin (empty line: an open network)",
    )


def read_password(stream: TextIO | None = None) -> str:
    """The WiFi password: the first line of stdin, strict UTF-8, never echoed in an error."""
    if stream is None:
        return read_stdin_secret("WiFi password")
    return decode_secret(stream.readline().encode("utf-8", "surrogateescape"), "the WiFi password on stdin")


def provision_command(ctx: CliContext, args: argparse.Namespace) -> int:
    password = read_password()
    ports = resolve_ports(ctx, args.port, args.all)
    instance = ctx.open_instance(deliver=False)  # the supervisor delivers the outbox first itself
    request = RunRequest(
        args.task,
        args.batch,
        args.ssid,
        password,
        args.confirm_release,
        args.baud,
        enrol_wait_s=args.enrol_wait,
    )
    job = job_for_request(instance, request)
    return run_jobs(ctx, instance, [job.for_port(port) for port in ports], json_mode=args.json)


def resolve_ports(ctx: CliContext, explicit: Sequence[str] | None, every: bool) -> list[str]:
    if explicit:
        ports = [p.strip() for p in explicit if p.strip()]
        if not ports:
            raise ValidationError("--port needs a serial port name or URL")
        return list(dict.fromkeys(ports))
    found = [p.url for p in list_all_ports(ctx.data_dir.sim_registry) if p.likely_esp]
    if not found:
        raise ValidationError(
            "no boards found: plug in an ESP32 board (or start virtual ones with `ql-station sim`), "
            "or name the port with --port"
        )
    return found


def run_jobs(ctx: CliContext, instance: Instance, jobs: Sequence[PortJob], json_mode: bool) -> int:
    """Run every job at once, print as they go, then a summary; 0 only if every board passed. While runs
    wait for enrolment on the built-in instance, its enrolment service runs here (as in the window)."""
    waits = any(job.enrol_wait_s > 0 for job in jobs)
    enrolment = start_for_station(instance, ctx.data_dir.root) if waits else None
    if enrolment is not None and not json_mode:
        print(enrolment.banner, file=ctx.out, flush=True)
    try:
        return _run_jobs(ctx, instance, jobs, json_mode)
    finally:
        if enrolment is not None:
            enrolment.stop()


def _run_jobs(ctx: CliContext, instance: Instance, jobs: Sequence[PortJob], json_mode: bool) -> int:
    printer = choose_printer(ctx.out, [j.port for j in jobs], json_mode)
    mode = jobs[0].mode.value if jobs else "provision"
    with RecordsDB(ctx.data_dir.records_db) as records:
        # The supervisor delivers the outbox first, on its own thread.
        supervisor = Supervisor(
            instance, records, printer, data_dir=ctx.data_dir.root, holder=f"ql-station {mode}"
        )
        try:
            supervisor.start_all(list(jobs))
            supervisor.wait()
        finally:
            supervisor.close()  # after Ctrl-C: cancels every worker and resets its board
            if isinstance(printer, LivePrinter):
                printer.stop()
        summaries = sorted(supervisor.summaries(), key=lambda s: [j.port for j in jobs].index(s.port))
        _flush(instance, records, printer)
    printer.summary(summaries)
    passed = len(summaries) == len(jobs) and all(s.outcome is Outcome.PASS for s in summaries)
    return EXIT_ALL_PASSED if passed else EXIT_SOME_FAILED


def choose_printer(out: TextIO, ports: Sequence[str], json_mode: bool) -> RunPrinter:
    """JSON lines for `--json`; the live table on a terminal; one plain line per step otherwise."""
    if json_mode:
        return JsonPrinter(out)
    if is_live_terminal(out):
        return LivePrinter(out, ports)
    return HumanPrinter(out, ports)


def _flush(instance: Instance, records: RecordsDB, printer: RunPrinter) -> None:
    """Send what is still queued once more before the command ends; keep it if the instance is still
    unreachable (the next command that reaches the instance tries again)."""
    if records.journal.count(JournalState.QUEUED) == 0:
        return
    report = flush_outbox(instance, records.journal)
    if report.still_queued:
        text = f"{report.still_queued} DeviceID(s) stay queued: {report.unreachable}"
        printer.on_event(LogEvent(port="", level="warning", source=LogSource.ENGINE, text=text))
    for message in report.messages:
        printer.on_event(LogEvent(port="", level="info", source=LogSource.ENGINE, text=f"outbox: {message}"))
