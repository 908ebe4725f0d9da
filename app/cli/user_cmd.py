"""`ql-station user create|list|set-role|delete`. Passwords come on stdin, never in argv."""

from __future__ import annotations

import argparse
import getpass
import sys

from app.cli.context import CliContext, read_stdin_secret
from app.cli.table import print_table
from app.domain.errors import ValidationError
from app.domain.kinds import Role, parse_choice
from app.domain.paging import iterate_pages
from app.instance.station_access import has_users


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "user", help="instance users (a signed-in administrator; the first one on a new instance)"
    )
    inner = parser.add_subparsers(dest="user_command", metavar="ACTION", required=True)

    create = inner.add_parser("create", help="create a user; the password is asked for or read from stdin")
    create.add_argument("username")
    create.add_argument("--role", required=True, metavar="administrator|contributor")
    create.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    create.set_defaults(handler=create_command)

    listing = inner.add_parser("list", help="users and roles")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=list_command)

    role = inner.add_parser("set-role", help="change a user's role")
    role.add_argument("username")
    role.add_argument("role", metavar="administrator|contributor")
    role.set_defaults(handler=set_role_command)

    delete = inner.add_parser("delete", help="delete a user")
    delete.add_argument("username")
    delete.set_defaults(handler=delete_command)


def read_secret_line(from_stdin: bool, prompt: str, what: str) -> str:
    """One secret: the first line of stdin, or typed at a terminal prompt without echo."""
    if from_stdin:
        secret = read_stdin_secret(what)
    elif sys.stdin.isatty():
        secret = getpass.getpass(prompt)
    else:
        raise ValidationError(f"no terminal to ask for the {what}; pipe it in with --password-stdin")
    if not secret:
        raise ValidationError(f"the {what} cannot be empty")
    return secret


def create_command(ctx: CliContext, args: argparse.Namespace) -> int:
    """On an instance with no users this creates its first administrator; after that an administrator
    must be signed in (the instance refuses anyone else)."""
    role = parse_choice(Role, args.role, "--role")
    instance = ctx.open_instance()
    first = not has_users(instance)
    if first and role is not Role.ADMINISTRATOR:
        raise ValidationError(
            "this instance has no users yet, so its first user must be an administrator "
            f"(--role administrator), who then manages the others: ql-station user create {args.username} "
            "--role administrator --password-stdin"
        )
    password = read_secret_line(args.password_stdin, "Password for the new user: ", "password")
    user = instance.create_user(args.username, password, role)
    ctx.out.write(f"created {user.role.value} {user.username!r}\n")
    if first:
        ctx.out.write(
            "It is this instance's first user: from now on commands act as the signed-in user. Sign in:\n"
            f"  ql-station login --user {user.username} --password-stdin\n"
        )
    return 0


def list_command(ctx: CliContext, args: argparse.Namespace) -> int:
    users = list(iterate_pages(ctx.open_instance().list_users))
    if args.json:
        ctx.print_json(users)
    else:
        rows = [(u.username, u.role.value, u.created_at.isoformat(timespec="seconds")) for u in users]
        print_table(ctx.out, ["Username", "Role", "Created"], rows)
    return 0


def set_role_command(ctx: CliContext, args: argparse.Namespace) -> int:
    user = ctx.open_instance().set_user_role(args.username, parse_choice(Role, args.role, "role"))
    ctx.out.write(f"{user.username!r} is now {user.role.value}\n")
    return 0


def delete_command(ctx: CliContext, args: argparse.Namespace) -> int:
    ctx.open_instance().delete_user(args.username)
    ctx.out.write(f"deleted user {args.username!r}\n")
    return 0
