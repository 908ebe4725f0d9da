"""`ql-station token create NAME [--days N] | list [--json] | revoke NAME`: API tokens for automation.

An administrator creates a named, long-lived token for a script; it is printed once, on stdout alone,
so `TOKEN=$(ql-station token create ci)` captures it and nothing else does. On a remote instance the
server does the work; on the built-in instance the tokens are kept beside it, in the file its
`ql-station serve` reads, so a token made here works against that server at once.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from app.cli.context import CliContext
from app.cli.table import print_table
from app.domain.errors import StationError
from app.domain.paging import iterate_pages
from app.instance.api_tokens import DEFAULT_DAYS, MAX_DAYS, ApiTokenAdmin
from app.instance.local.instance import LocalInstance
from app.server.api_tokens import ServedApiTokens
from app.server.server_db import FILE_NAME, ServerDatabase


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("token", help="API tokens for scripts and automation (administrators only)")
    inner = parser.add_subparsers(dest="token_command", metavar="ACTION", required=True)

    create = inner.add_parser("create", help="create a token acting as you; it is printed once")
    create.add_argument("name")
    create.add_argument(
        "--days",
        type=int,
        default=DEFAULT_DAYS,
        metavar="N",
        help=f"valid for N days (1 to {MAX_DAYS}; default {DEFAULT_DAYS})",
    )
    create.set_defaults(handler=create_command)

    listing = inner.add_parser("list", help="name, owner, created, last used, expires; never the token")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=list_command)

    revoke = inner.add_parser("revoke", help="stop a token working, at once")
    revoke.add_argument("name")
    revoke.set_defaults(handler=revoke_command)


@contextmanager
def token_admin(ctx: CliContext) -> Iterator[ApiTokenAdmin]:
    """The remote instance itself, or the built-in instance with its server's token file."""
    instance = ctx.open_instance()
    if isinstance(instance, LocalInstance):
        tokens = ServerDatabase(ctx.data_dir.local_instance_db.parent / FILE_NAME)
        try:
            yield ServedApiTokens(tokens, instance)
        finally:
            tokens.close()
    elif isinstance(instance, ApiTokenAdmin):
        yield instance
    else:
        raise StationError(
            f"API tokens are managed on the instance's server; this connection ({type(instance).__name__}) "
            "cannot reach it: connect to the instance with `ql-station instance connect`"
        )


def create_command(ctx: CliContext, args: argparse.Namespace) -> int:
    with token_admin(ctx) as admin:
        created = admin.create_api_token(args.name, args.days)
    info = created.api_token
    ctx.err.write(
        f"created API token {info.name!r} acting as {info.owner!r}, valid until {_when(info.expires_at)}; "
        "it is shown this once: store it now\n"
    )
    ctx.out.write(created.token + "\n")
    return 0


def list_command(ctx: CliContext, args: argparse.Namespace) -> int:
    with token_admin(ctx) as admin:
        tokens = list(iterate_pages(admin.list_api_tokens))
    if args.json:
        ctx.print_json(tokens)
        return 0
    rows = [
        (t.name, t.owner, _when(t.created_at), _when(t.last_used_at), _when(t.expires_at)) for t in tokens
    ]
    print_table(ctx.out, ["Name", "Owner", "Created", "Last used", "Expires"], rows)
    return 0


def revoke_command(ctx: CliContext, args: argparse.Namespace) -> int:
    with token_admin(ctx) as admin:
        admin.revoke_api_token(args.name)
    ctx.out.write(f"revoked API token {args.name.strip()!r}\n")
    return 0


def _when(moment: datetime | None) -> str:
    return "never" if moment is None else moment.isoformat(timespec="seconds")
