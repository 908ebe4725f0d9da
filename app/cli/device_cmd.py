"""`ql-station device show ID [--json]`, `device renew ID` and `device revoke ID`: one device's lifecycle.

`show` prints the device's batch and state and its certificate (serial, validity, when it was last seen
enrolling, how many times it enrolled, the firmware it last reported), from whichever instance the
station uses (built-in, remote, or the mirror's copy while offline). `renew` gives the device a new
certificate under its batch's policy (Renewed; refused for a revoked device). `revoke` makes the device
Revoked: the enrolment service refuses it from then on, until a person moves it to a batch again.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from app.cli.context import CliContext
from app.cli.table import print_fields
from app.domain.device_id import parse_device_id
from app.domain.errors import NotFoundError
from app.domain.kinds import DeviceState
from app.domain.records import DeviceCertificate


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("device", help="one device: its state and certificate; renew or revoke it")
    inner = parser.add_subparsers(dest="device_command", metavar="ACTION", required=True)
    show = inner.add_parser("show", help="a device's batch, state and certificate")
    show.add_argument("device_id", metavar="ID", help="the 64-hex DeviceID")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=show_command)
    renew = inner.add_parser("renew", help="give a device a new certificate under its batch's policy")
    renew.add_argument("device_id", metavar="ID", help="the 64-hex DeviceID")
    renew.set_defaults(handler=renew_command)
    revoke = inner.add_parser("revoke", help="revoke a device: it can no longer enrol")
    revoke.add_argument("device_id", metavar="ID", help="the 64-hex DeviceID")
    revoke.set_defaults(handler=revoke_command)


def show_command(ctx: CliContext, args: argparse.Namespace) -> int:
    device_id = parse_device_id(args.device_id)
    instance = ctx.open_instance()
    device = instance.find_device(device_id)
    if device is None:
        raise NotFoundError(f"device {device_id} is in no batch of this instance")
    certificate = instance.device_certificate(device_id)
    if certificate is not None:
        device = replace(device, state=certificate.state)  # the lifecycle's word is the newer one
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
            ("Last seen", f"{certificate.enrolled_at.isoformat(timespec='seconds')} (last enrolment)"),
            ("First enrolled", certificate.first_enrolled_at.isoformat(timespec="seconds")),
            ("Enrolments", certificate.enrolments),
            ("Firmware", certificate.firmware or "not reported"),
        ]
    print_fields(ctx.out, pairs)
    return 0


def renew_command(ctx: CliContext, args: argparse.Namespace) -> int:
    device_id = parse_device_id(args.device_id)
    renewed = ctx.open_instance().renew_device(device_id)
    until = renewed.not_after.isoformat(timespec="seconds")
    print(
        f"device {device_id} renewed: certificate serial {renewed.serial_hex}, valid until {until}",
        file=ctx.out,
    )
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
        "last_seen": certificate.enrolled_at.isoformat(),
        "state": certificate.state.value,
        "enrolments": certificate.enrolments,
        "firmware": certificate.firmware,
        "pem": certificate.certificate_pem,
    }
