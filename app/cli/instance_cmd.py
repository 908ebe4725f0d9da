"""`ql-station instance status`: which instance, who is acting, and the dashboard summary."""

from __future__ import annotations

import argparse

from app.cli.context import CliContext
from app.cli.table import print_fields, print_table


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
