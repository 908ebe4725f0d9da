"""`ql-station login --user NAME --password-stdin` and `ql-station logout`.

Signing in checks the password on the instance this station works with (the paired one, else the
built-in one) and keeps the session token in the OS keyring, so later commands act as that user.
`logout` revokes the token where it was issued and forgets it. The password is read from stdin or typed
at a hidden prompt; it is never an argument, and it is never written anywhere.
"""

from __future__ import annotations

import argparse

from app.cli.context import CliContext
from app.cli.user_cmd import read_secret_line
from app.domain.errors import SecretUnavailableError, ValidationError
from app.instance.station_access import BUILT_IN


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    login = sub.add_parser("login", help="sign in to the instance; later commands act as this user")
    login.add_argument("--user", dest="username", metavar="NAME", help="the user to sign in as")
    login.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    login.set_defaults(handler=login_command)
    logout = sub.add_parser("logout", help="sign out: the session is revoked on the instance")
    logout.set_defaults(handler=logout_command)


def _where(where: str) -> str:
    return "the built-in instance" if where == BUILT_IN else where


def login_command(ctx: CliContext, args: argparse.Namespace) -> int:
    username = args.username or ctx.actor
    if not username:
        raise ValidationError("name the user to sign in as: ql-station login --user NAME --password-stdin")
    access = ctx.access()
    if not access.keeper.available():
        raise SecretUnavailableError(
            "no OS keyring on this computer can keep a sign-in, and the station never writes one to a "
            "file: give --user NAME to each command instead and type the password when it asks"
        )
    password = read_secret_line(args.password_stdin, f"Password for {username}: ", "password")
    where = access.where()
    earlier = access.keeper.get()
    instance, _token = access.sign_in(username, password, keep=True)  # replaces (and revokes) `earlier`
    try:
        info = instance.info()
    finally:
        instance.close()
    if earlier is not None and earlier.username != info.actor:
        ctx.out.write(f"signed out {earlier.username}\n")
    ctx.out.write(
        f"signed in to {_where(where)} as {info.actor} ({info.role.value}); the sign-in is kept in the "
        "OS keyring until `ql-station logout`\n"
    )
    return 0


def logout_command(ctx: CliContext, args: argparse.Namespace) -> int:
    kept, problem = ctx.access().sign_out()
    if kept is None:
        ctx.out.write("no one is signed in on this station\n")
    elif problem is None:
        ctx.out.write(f"signed out {kept.username} from {_where(kept.instance)}\n")
    else:
        ctx.out.write(
            f"signed out {kept.username} on this station, but {_where(kept.instance)} could not be told "
            f"({problem}); the session ends by itself when it expires\n"
        )
    return 0
