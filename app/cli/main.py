"""`ql-station [--data-dir D] COMMAND ...`: the headless front end.

Every command group lives in its own module with a `register(subparsers)` function; this module only
assembles them (importing just the one a command names: see `COMMAND_MODULES`), parses global options
and turns person-facing errors into `error: ...` on stderr.

Arguments that are not UTF-8 are refused here, once, for every command: the interpreter hands such bytes
over as lone surrogates, which no database, JSON file or terminal accepts, so they would otherwise end in
a UnicodeEncodeError far from the argument that caused it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from app import __version__
from app.domain.errors import StationError
from app.system.paths import ENV_HOME, DataDir, resolve_data_dir

if TYPE_CHECKING:
    from app.cli.context import CliContext

# Each command word and the module whose `register` adds it. A command imports only its own module, so
# `ql-station batch list` does not pay for FastAPI (serve) or esptool (board, sim): about 0.3 s instead
# of 2 s. Help without a command, and anything this table cannot place, build the whole parser.
# tests/cli/test_command_table.py keeps the table in step with what the modules register.
COMMAND_MODULES: dict[str, str] = {
    "instance": "app.cli.instance_cmd",
    "login": "app.cli.login_cmd",
    "logout": "app.cli.login_cmd",
    "batch": "app.cli.batch_cmd",
    "policy": "app.cli.policy_cmd",
    "device": "app.cli.device_cmd",
    "key": "app.cli.key_cmd",
    "task": "app.cli.task_cmd",
    "image": "app.cli.image_cmd",
    "firmware": "app.cli.firmware_cmd",
    "user": "app.cli.user_cmd",
    "token": "app.cli.token_cmd",
    "log": "app.cli.log_cmd",
    "ports": "app.cli.ports_cmd",
    "provision": "app.cli.provision_cmd",
    "reenrol": "app.cli.reenrol_cmd",
    "records": "app.cli.records_cmd",
    "outbox": "app.cli.outbox_cmd",
    "sim": "app.cli.sim_cmd",
    "serve": "app.cli.serve_cmd",
    "board": "app.cli.board_cmd",
    "self-check": "app.cli.self_check_cmd",
    "port-worker": "app.cli.port_worker_cmd",
}

# Global options that take a value (the word after them is not the command).
_GLOBAL_WITH_VALUE = ("--data-dir", "--passphrase-file", "--user")

Handler = Callable[["CliContext", argparse.Namespace], int]

EXIT_OK = 0
EXIT_ERROR = 2


class StationArgumentParser(argparse.ArgumentParser):
    """argparse, plus: every argument must be UTF-8 text; a bad one is named as argparse names its own."""

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        parsed = super().parse_args(args, namespace)
        for dest, value in vars(parsed).items():
            for text in _texts(value):
                problem = utf8_problem(text)
                if problem is not None:
                    self.error(f"argument {_argument_name(self, dest)}: {problem}")
        return parsed


def utf8_problem(text: str) -> str | None:
    """Why `text` (from argv, decoded with surrogateescape) is not UTF-8 text, or None if it is."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raw = text.encode("utf-8", "surrogateescape")
        byte_at = len(text[: exc.start].encode("utf-8", "surrogateescape"))
        shown = raw.decode("utf-8", "backslashreplace")
        return (
            f"'{shown}' is not valid UTF-8 text (byte 0x{raw[byte_at]:02X} at position {byte_at + 1}); "
            "type it again, or set the terminal or script to UTF-8"
        )
    return None


def _texts(value: object) -> list[str]:
    if isinstance(value, str | os.PathLike):
        return [os.fspath(value)] if isinstance(os.fspath(value), str) else []
    if isinstance(value, list | tuple):
        return [text for item in value for text in _texts(item)]
    return []


def _argument_name(parser: argparse.ArgumentParser, dest: str) -> str:
    """The option (`--search`) or positional (`name`) that fills `dest`, as argparse names it."""
    for action in _actions(parser):
        if action.dest == dest:
            return (
                max(action.option_strings, key=len) if action.option_strings else str(action.metavar or dest)
            )
    return dest


def _actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    actions: list[argparse.Action] = []
    for action in parser._actions:
        actions.append(action)
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                actions += _actions(child)
    return actions


def _data_dir_problem(explicit: str | None, root: Path) -> str | None:
    """A data folder that is a file, named by where it came from (a sentence, or None if it is fine)."""
    if not root.exists() or root.is_dir():
        return None
    given = "--data-dir" if explicit else f"${ENV_HOME}" if os.environ.get(ENV_HOME) else "the data folder"
    return f"{given} {root} is a file, not a folder; name a folder (it is created if missing)"


def commands_needed(argv: Sequence[str]) -> Collection[str] | None:
    """The command words whose modules `argv` needs: none for `--version`, the one it names, or None
    (all of them) for help, a mistake or a spelling this cannot read for sure (an abbreviated option)."""
    words = iter(argv)
    for word in words:
        if word in _GLOBAL_WITH_VALUE:
            next(words, None)
        elif word.startswith(tuple(f"{option}=" for option in _GLOBAL_WITH_VALUE)):
            continue
        elif word == "--version":
            return ()
        elif word.startswith("-"):
            return None
        elif word == "gui":
            return ()
        else:
            return (word,) if word in COMMAND_MODULES else None
    return None


def build_parser(commands: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The CLI's parser with the given commands (see `commands_needed`); all of them when None."""
    parser = StationArgumentParser(
        prog="ql-station",
        description="QuarkLink Provisioning Station. With no command, opens the station window.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--data-dir",
        metavar="PATH",
        help="station data folder (default: $QL_STATION_HOME, else the OS user-data folder)",
    )
    parser.add_argument(
        "--passphrase-file",
        metavar="PATH",
        type=Path,
        help="file holding the passphrase that protects instance keys, when no OS keyring is available",
    )
    parser.add_argument(
        "--user", dest="actor", metavar="NAME", help="act as this user: signed in, or asked for its password"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    gui = sub.add_parser("gui", help="open the station window (the default)")
    gui.add_argument("--demo", action="store_true", help="attach simulated boards and a demo task and batch")
    wanted = COMMAND_MODULES if commands is None else commands
    for module_name in dict.fromkeys(COMMAND_MODULES[word] for word in wanted):
        importlib.import_module(module_name).register(sub)
    return parser


def run(argv: Sequence[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one non-GUI command. Person-facing errors become `error: ...` and exit status 2."""
    parser = build_parser(commands_needed(argv))
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(out or sys.stdout)
        return EXIT_OK
    err = err or sys.stderr
    data_root = resolve_data_dir(args.data_dir)
    problem = _data_dir_problem(args.data_dir, data_root)
    if problem is not None:
        print(f"error: {problem}", file=err)
        return EXIT_ERROR
    from app.cli.context import CliContext  # with the command: `--version` and help need none of it

    ctx = CliContext(
        data_dir=DataDir(data_root),
        out=out or sys.stdout,
        err=err,
        passphrase_file=args.passphrase_file,
        actor=args.actor,
    )
    try:
        return handler(ctx, args)
    except StationError as exc:
        print(f"error: {exc}", file=ctx.err)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=ctx.err)
        return 130
    finally:
        ctx.close()
