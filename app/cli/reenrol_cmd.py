"""`ql-station reenrol --port URL --batch B --ssid S --password-stdin [--json]
[--enrol-wait SECONDS | --no-wait-enrolled]`.

For a board already in the field: nothing is flashed. The board is reset into the firmware it runs, its
IEF's requests are answered (the new WiFi, this instance), and its DeviceID is added to the batch, or
queued when the instance cannot be reached, to be sent later. Then, as for `provision`, the run waits
(60 s unless told) until the board has reconnected and the instance reports it Enrolled, so a PASS means
the re-enrolled board reached the instance; offline, it passes saying the enrolment is not confirmed.
"""

from __future__ import annotations

import argparse

from app.cli.context import CliContext
from app.cli.provision_cmd import (
    add_enrol_wait_arguments,
    add_wifi_arguments,
    read_password,
    resolve_ports,
    run_jobs,
)
from app.domain.run_options import DEFAULT_ENROL_WAIT_S
from app.provisioning.job_builder import reenrol_job


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("reenrol", help="enrol a board that already runs its IEF again (no flashing)")
    parser.add_argument("--port", required=True, action="append", metavar="URL", help="the board's port")
    parser.add_argument("--batch", required=True, help="batch the board's DeviceID is added to")
    add_wifi_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the event stream as JSON lines")
    add_enrol_wait_arguments(parser, f"{DEFAULT_ENROL_WAIT_S:g} s")
    parser.set_defaults(handler=reenrol_command)


def reenrol_command(ctx: CliContext, args: argparse.Namespace) -> int:
    password = read_password()
    ports = resolve_ports(ctx, args.port, every=False)
    instance = ctx.open_instance(deliver=False)  # the supervisor delivers the outbox first itself
    wait = DEFAULT_ENROL_WAIT_S if args.enrol_wait is None else args.enrol_wait
    job = reenrol_job(instance, batch=args.batch, ssid=args.ssid, password=password, enrol_wait_s=wait)
    return run_jobs(ctx, instance, [job.for_port(port) for port in ports], json_mode=args.json)
