"""`ql-station policy create|list|show|edit|delete`: the terms batches enrol under.

A JWT lifetime is given in minutes. The connection types `iot-hub` and `database-direct` are recorded
on the policy only, until they can be configured.
"""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.context import CliContext
from app.cli.table import print_fields, print_table
from app.domain.kinds import ConnectionType, parse_choice
from app.domain.paging import iterate_pages

CONNECTIONS = "|".join(c.value for c in ConnectionType)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("policy", help="policies: the terms a batch's devices enrol under")
    inner = parser.add_subparsers(dest="policy_command", metavar="ACTION", required=True)

    create = inner.add_parser("create", help="create a policy (terms not given are the defaults)")
    create.add_argument("name")
    _term_options(create, "default")
    create.set_defaults(handler=create_command)

    listing = inner.add_parser("list", help="policies with their terms and how many batches use each")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=list_command)

    show = inner.add_parser("show", help="one policy")
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=show_command)

    edit = inner.add_parser("edit", help="change a policy's terms (only the options given change)")
    edit.add_argument("name")
    _term_options(edit, "kept")
    edit.set_defaults(handler=edit_command)

    delete = inner.add_parser("delete", help="delete a policy (refused while a batch uses it)")
    delete.add_argument("name")
    delete.set_defaults(handler=delete_command)


def _term_options(parser: argparse.ArgumentParser, otherwise: str) -> None:
    parser.add_argument(
        "--cert-days", type=int, metavar="N", help=f"device-certificate lifetime in days ({otherwise})"
    )
    parser.add_argument(
        "--auto-renew",
        action=argparse.BooleanOptionalAction,
        help=f"whether devices renew their certificates ({otherwise})",
    )
    parser.add_argument("--connection", metavar=CONNECTIONS, help=f"type of connection ({otherwise})")
    parser.add_argument("--jwt-minutes", type=int, metavar="N", help=f"JWT lifetime in minutes ({otherwise})")


def _terms(args: argparse.Namespace) -> dict[str, Any]:
    """The terms given on the command line, by the instance's argument names."""
    given: dict[str, Any] = {
        "certificate_days": args.cert_days,
        "auto_renew": args.auto_renew,
        "jwt_minutes": args.jwt_minutes,
    }
    if args.connection is not None:
        given["connection"] = parse_choice(ConnectionType, args.connection, "--connection")
    return {name: value for name, value in given.items() if value is not None}


def create_command(ctx: CliContext, args: argparse.Namespace) -> int:
    policy = ctx.open_instance().create_policy(args.name, **_terms(args))
    ctx.out.write(f"created policy {policy.name!r}: {policy.terms}\n")
    return 0


def list_command(ctx: CliContext, args: argparse.Namespace) -> int:
    policies = list(iterate_pages(ctx.open_instance().list_policies))
    if args.json:
        ctx.print_json(policies)
        return 0
    rows = [
        (
            p.name,
            p.connection.value,
            p.certificate_days,
            "yes" if p.auto_renew else "no",
            p.jwt_minutes,
            p.batches,
        )
        for p in policies
    ]
    headers = ["Name", "Connection", "Cert days", "Auto-renew", "JWT min", "Batches"]
    print_table(ctx.out, headers, rows)
    return 0


def show_command(ctx: CliContext, args: argparse.Namespace) -> int:
    policy = ctx.open_instance().get_policy(args.name)
    if args.json:
        ctx.print_json(policy)
        return 0
    print_fields(
        ctx.out,
        [
            ("Policy", policy.name),
            ("Connection", policy.connection.value),
            ("Certificate lifetime", f"{policy.certificate_days} days"),
            ("Auto-renew", "yes" if policy.auto_renew else "no"),
            ("JWT lifetime", f"{policy.jwt_minutes} minutes"),
            ("Batches", policy.batches),
            ("Created", policy.created_at.isoformat(timespec="seconds")),
        ],
    )
    return 0


def edit_command(ctx: CliContext, args: argparse.Namespace) -> int:
    policy = ctx.open_instance().update_policy(args.name, **_terms(args))
    ctx.out.write(f"updated policy {policy.name!r}: {policy.terms}\n")
    return 0


def delete_command(ctx: CliContext, args: argparse.Namespace) -> int:
    instance = ctx.open_instance()
    policy = instance.get_policy(args.name)
    instance.delete_policy(policy.name)
    ctx.out.write(f"deleted policy {policy.name!r}\n")
    return 0
