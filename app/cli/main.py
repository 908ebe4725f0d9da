"""`ql-station [--data-dir D] COMMAND ...`: the headless front end.

Every command group lives in its own module with a `register(subparsers)` function; this module only
assembles them, parses global options and turns person-facing errors into `error: ...` on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TextIO

from app import __version__
from app.cli import (
    batch_cmd,
    image_cmd,
    instance_cmd,
    key_cmd,
    log_cmd,
    port_worker_cmd,
    ports_cmd,
    provision_cmd,
    records_cmd,
    reenrol_cmd,
    sim_cmd,
    task_cmd,
    user_cmd,
)
from app.cli.context import CliContext
from app.domain.errors import StationError
from app.system.paths import DataDir, resolve_data_dir

COMMAND_MODULES: tuple[ModuleType, ...] = (
    instance_cmd,
    batch_cmd,
    key_cmd,
    task_cmd,
    image_cmd,
    user_cmd,
    log_cmd,
    ports_cmd,
    provision_cmd,
    reenrol_cmd,
    records_cmd,
    sim_cmd,
    port_worker_cmd,
)

Handler = Callable[[CliContext, argparse.Namespace], int]

EXIT_OK = 0
EXIT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    parser.add_argument("--user", dest="actor", metavar="NAME", help="act as this instance user")
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
    ctx = CliContext(
        data_dir=DataDir(resolve_data_dir(args.data_dir)),
        out=out or sys.stdout,
        err=err or sys.stderr,
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
