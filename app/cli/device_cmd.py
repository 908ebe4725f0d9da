"""`ql-station device show ID [--json]` and `device revoke ID`: one device's lifecycle on the instance.

`show` prints the device's batch and state and, on the built-in instance, its certificate (serial,
validity, how many times it enrolled, the firmware it last reported). `revoke` makes the device Revoked:
the enrolment service refuses it from then on, until a person moves it to a batch again.
"""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.context import CliContext
from app.cli.table import print_fields
from app.domain.device_id import parse_device_id
from app.domain.errors import NotFoundError
from app.domain.kinds import DeviceState
from app.instance.local.enrolment import DeviceCertificate
from app.instance.local.instance import LocalInstance


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("device", help="one device: its state and certificate; revoke it")
    inner = parser.add_subparsers(dest="device_command", metavar="ACTION", required=True)
    show = inner.add_parser("show", help="a device's batch, state and certificate")
    show.add_argument("device_id", metavar="ID", help="the 64-hex DeviceID")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=show_command)
    revoke = inner.add_parser("revoke", help="revoke a device: it can no longer enrol")
    revoke.add_argument("device_id", metavar="ID", help="the 64-hex DeviceID")
    revoke.set_defaults(handler=revoke_command)


def show_command(ctx: CliContext, args: argparse.Namespace) -> int:
    device_id = parse_device_id(args.device_id)
    instance = ctx.open_instance()
    device = instance.find_device(device_id)
    if device is None:
        raise NotFoundError(f"device {device_id} is in no batch of this instance")
    certificate: DeviceCertificate | None = None
    if isinstance(instance, LocalInstance):
        certificate = instance.device_enrolment().certificate_of(device_id)
    if args.json:
        ctx.print_json({"device": device, "certificate": _certificate_json(certificate)})
        return 0
    pairs: list[tuple[str, object]] = [
        ("DeviceID", device.device_id),
        ("Batch", device.batch),
        ("State", device.state.value),
        ("Added", device.added_at.isoformat(timespec="seconds")),
    ]
    if certificate is None:
        pairs.append(("Certificate", "none (the device has not enrolled)"))
    else:
        pairs += [
            ("Certificate serial", certificate.serial_hex),
            ("Valid from", certificate.not_before.isoformat(timespec="seconds")),
            ("Valid until", certificate.not_after.isoformat(timespec="seconds")),
            ("Enrolled", f"{certificate.enrolled_at.isoformat(timespec='seconds')}"),
            ("Enrolments", certificate.enrolments),
            ("Firmware", certificate.firmware or "not reported"),
        ]
    print_fields(ctx.out, pairs)
    return 0


def revoke_command(ctx: CliContext, args: argparse.Namespace) -> int:
    device_id = parse_device_id(args.device_id)
    instance = ctx.open_instance()
    changed = instance.set_device_state([device_id], DeviceState.REVOKED)
    note = "revoked" if changed else "was already revoked"
    print(f"device {device_id} {note}; it can no longer enrol", file=ctx.out)
    return 0


def _certificate_json(certificate: DeviceCertificate | None) -> dict[str, Any] | None:
    if certificate is None:
        return None
    return {
        "serial": certificate.serial_hex,
        "not_before": certificate.not_before.isoformat(),
        "not_after": certificate.not_after.isoformat(),
        "first_enrolled_at": certificate.first_enrolled_at.isoformat(),
        "enrolled_at": certificate.enrolled_at.isoformat(),
        "enrolments": certificate.enrolments,
        "firmware": certificate.firmware,
        "pem": certificate.certificate_pem,
    }
