"""`ql-station [--data-dir D] COMMAND ...`: the headless front end.

Every command group lives in its own module with a `register(subparsers)` function; this module only
assembles them, parses global options and turns person-facing errors into `error: ...` on stderr.

Arguments that are not UTF-8 are refused here, once, for every command: the interpreter hands such bytes
over as lone surrogates, which no database, JSON file or terminal accepts, so they would otherwise end in
a UnicodeEncodeError far from the argument that caused it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TextIO

from app import __version__
from app.cli import (
    batch_cmd,
    board_cmd,
    device_cmd,
    firmware_cmd,
    image_cmd,
    instance_cmd,
    key_cmd,
    log_cmd,
    login_cmd,
    outbox_cmd,
    port_worker_cmd,
    ports_cmd,
    provision_cmd,
    records_cmd,
    reenrol_cmd,
    self_check_cmd,
    serve_cmd,
    sim_cmd,
    task_cmd,
    token_cmd,
    user_cmd,
)
from app.cli.context import CliContext
from app.domain.errors import StationError
from app.system.paths import ENV_HOME, DataDir, resolve_data_dir

COMMAND_MODULES: tuple[ModuleType, ...] = (
    instance_cmd,
    login_cmd,
    batch_cmd,
    device_cmd,
    key_cmd,
    task_cmd,
    image_cmd,
    firmware_cmd,
    user_cmd,
    token_cmd,
    log_cmd,
    ports_cmd,
    provision_cmd,
    reenrol_cmd,
    records_cmd,
    outbox_cmd,
    sim_cmd,
    serve_cmd,
    board_cmd,
    self_check_cmd,
    port_worker_cmd,
)

Handler = Callable[[CliContext, argparse.Namespace], int]

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


def build_parser() -> argparse.ArgumentParser:
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
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def run(argv: Sequence[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one non-GUI command. Person-facing errors become `error: ...` and exit status 2."""
    parser = build_parser()
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
