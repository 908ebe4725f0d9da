"""`ql-station key create|list|export`: signing keys live in the instance; only public parts come out."""

from __future__ import annotations

import argparse

from app.cli.context import CliContext
from app.cli.table import print_table
from app.domain.kinds import KeyType, parse_choice
from app.domain.paging import iterate_pages


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("key", help="signing keys held by the instance")
    inner = parser.add_subparsers(dest="key_command", metavar="ACTION", required=True)

    create = inner.add_parser("create", help="generate a signing key inside the instance")
    create.add_argument("name")
    create.add_argument("--type", required=True, metavar="|".join(k.value for k in KeyType), dest="key_type")
    create.set_defaults(handler=create_command)

    listing = inner.add_parser("list", help="signing keys and their Secure Boot digests")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=list_command)

    export = inner.add_parser("export", help="print a key's public part (PEM) on stdout")
    export.add_argument("name")
    export.set_defaults(handler=export_command)


def create_command(ctx: CliContext, args: argparse.Namespace) -> int:
    key_type = parse_choice(KeyType, args.key_type, "--type")
    key = ctx.open_instance().create_signing_key(args.name, key_type)
    ctx.out.write(f"created {key.key_type.value} key {key.name!r}; Secure Boot digest {key.key_digest_hex}\n")
    return 0


def list_command(ctx: CliContext, args: argparse.Namespace) -> int:
    keys = list(iterate_pages(ctx.open_instance().list_signing_keys))
    if args.json:
        ctx.print_json(keys)
    else:
        rows = [
            (k.name, k.key_type.value, k.key_digest_hex, k.created_at.isoformat(timespec="seconds"))
            for k in keys
        ]
        print_table(ctx.out, ["Name", "Type", "Secure Boot digest", "Created"], rows)
    return 0


def export_command(ctx: CliContext, args: argparse.Namespace) -> int:
    ctx.out.write(ctx.open_instance().get_signing_key(args.name).public_key_pem)
    return 0
