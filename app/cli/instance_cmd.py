"""`ql-station instance status|params|connect|disconnect`: which instance, who acts, pairing.

`connect URL` pairs this station with a served instance (`app.instance.remote.pairing.pair`): the root
CA's fingerprint is shown and confirmed at the terminal, or checked against `--fingerprint`, or the CA
is given with `--ca-file`. Without a terminal and without either option nothing is trusted.
`disconnect` returns to the built-in instance.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.context import CliContext
from app.cli.table import print_fields, print_table
from app.domain.errors import ValidationError
from app.instance.remote import pairing
from app.instance.remote.pairing import RootCaOffer


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("instance", help="the instance this station works with")
    inner = parser.add_subparsers(dest="instance_command", metavar="ACTION", required=True)
    status = inner.add_parser("status", help="connection, health, device and certificate counts")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=status_command)
    params = inner.add_parser("params", help="what boards are told: endpoint, port, root CA")
    params.add_argument("--endpoint", help="set the hostname boards connect to")
    params.add_argument("--port", type=int, help="set the port boards connect to")
    params.add_argument("--json", action="store_true", help="print JSON")
    params.set_defaults(handler=params_command)
    connect = inner.add_parser("connect", help="pair with a served instance (ql-station serve) and use it")
    connect.add_argument("url", metavar="URL", help="the server's address, https://HOST:PORT")
    trust = connect.add_mutually_exclusive_group()
    trust.add_argument(
        "--fingerprint", metavar="SHA256", help="the root CA fingerprint `ql-station serve` printed"
    )
    trust.add_argument("--ca-file", type=Path, metavar="PEM", help="the instance's root CA certificate")
    connect.set_defaults(handler=connect_command)
    disconnect = inner.add_parser("disconnect", help="go back to the built-in instance")
    disconnect.set_defaults(handler=disconnect_command)


def status_command(ctx: CliContext, args: argparse.Namespace) -> int:
    instance = ctx.open_instance()
    info = instance.info()
    summary = instance.dashboard_summary()
    if args.json:
        ctx.print_json({"instance": info, "summary": summary})
        return 0
    print_fields(
        ctx.out,
        [
            ("Instance", f"{info.name} ({info.kind})"),
            ("Location", info.location),
            ("Acting as", f"{info.actor} ({info.role.value})"),
        ],
    )
    ctx.out.write("\n")
    print_table(
        ctx.out, ["Component", "Status", "Detail"], [(h.name, h.label, h.detail) for h in summary.health]
    )
    d, c = summary.devices, summary.certificates
    ctx.out.write(
        f"\nDevices: {d.total} (registered {d.registered}, enrolled {d.enrolled}, renewed {d.renewed}, "
        f"revoked {d.revoked}, expired {d.expired})\n"
        f"Certificates: valid {c.valid}, expired {c.expired}, not used {c.not_used}\n"
    )
    return 0


def params_command(ctx: CliContext, args: argparse.Namespace) -> int:
    instance = ctx.open_instance()
    params = instance.instance_params()
    if args.endpoint is not None or args.port is not None:
        params = instance.set_instance_params(
            args.endpoint if args.endpoint is not None else params.endpoint,
            args.port if args.port is not None else params.port,
        )
    if args.json:
        ctx.print_json(params)
    else:
        print_fields(ctx.out, [("Endpoint", params.endpoint), ("Port", params.port)])
        ctx.out.write("\nRoot CA:\n" + params.root_ca_pem)
    return 0


def connect_command(ctx: CliContext, args: argparse.Namespace) -> int:
    ca_pem = None
    if args.ca_file is not None:
        try:
            ca_pem = args.ca_file.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationError(f"cannot read the CA file {args.ca_file}: {exc}") from None
    interactive = sys.stdin.isatty()

    def confirm(offer: RootCaOffer) -> bool:
        ctx.out.write(
            f"The server at {offer.url} offers this root CA:\n  {offer.subject}\n"
            f"  SHA-256 fingerprint: {offer.fingerprint}\n"
            "Compare it with the fingerprint `ql-station serve` printed on the instance's computer.\n"
        )
        ctx.out.flush()
        answer = input("Is it the same? Type yes to pair: ")
        return answer.strip().lower() in ("y", "yes")

    paired = pairing.pair(
        ctx.data_dir.ensure().root,
        args.url,
        fingerprint=args.fingerprint,
        ca_pem=ca_pem,
        confirm=confirm if interactive else None,
    )
    access = ctx.access()
    access.sign_out()  # a sign-in belongs to the instance it was made on
    ctx.out.write(
        f"paired with {paired.url} (root CA SHA-256 {paired.fingerprint}); every command now uses it.\n"
        "Sign in: ql-station login --user NAME --password-stdin\n"
    )
    return 0


def disconnect_command(ctx: CliContext, args: argparse.Namespace) -> int:
    access = ctx.access()
    if access.pairing() is None:
        ctx.out.write("this station already uses its built-in instance\n")
        return 0
    access.sign_out()
    forgotten = pairing.forget(ctx.data_dir.root)
    where = forgotten.url if forgotten is not None else "the paired instance"
    ctx.out.write(f"disconnected from {where}; this station uses its built-in instance again\n")
    return 0
