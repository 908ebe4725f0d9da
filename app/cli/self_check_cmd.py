"""`ql-station self-check [--json]`: is everything a run needs on this computer?

For every supported chip: esptool's stub flasher and espefuse's eFuse table; then the OS keyring, the
CA bundle, the Qt platform, the data folder, and serial-port access. Each line says what was found and,
when something is wrong, what to do. Exit status 0 when nothing a run needs is missing (warnings
allowed), 1 otherwise: a script or a support call can rely on it.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import TextIO

from app.cli.context import CliContext
from app.provisioning.station_checks import station_self_check
from app.system.self_check import SelfCheckReport, Status

EXIT_MISSING = 1
_WIDTH = 100


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "self-check",
        help="check that this computer has everything a run needs (esptool data, keyring, Qt, ports)",
        description="Check esptool's stub flashers and eFuse tables for every chip, the OS keyring, the CA "
        "bundle, the Qt platform, the data folder and serial-port access. Exit status 1 when something a "
        "run needs is missing.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=self_check_command)


def self_check_command(ctx: CliContext, args: argparse.Namespace) -> int:
    report = station_self_check(ctx.data_dir.root)
    if args.json:
        ctx.print_json(report.to_json())
    else:
        print_report(report, ctx.out)
    return 0 if report.ok else EXIT_MISSING


def print_report(report: SelfCheckReport, out: TextIO) -> None:
    width = max(len(check.name) for check in report.checks)
    indent = " " * (width + 8)
    for check in report.checks:
        line = f"{check.status.value.upper():<5} {check.name:<{width}}  {check.detail}"
        out.write(_fill(line, "", indent) + "\n")
        if check.fix:
            out.write(_fill(f"-> {check.fix}", indent, indent) + "\n")
    failed = report.with_status(Status.FAIL)
    warned = report.with_status(Status.WARN)
    if failed:
        names = ", ".join(check.name for check in failed)
        out.write(f"\nMissing for a run: {names}. See the lines marked FAIL.\n")
    else:
        note = f" ({len(warned)} warning{'s' if len(warned) != 1 else ''})" if warned else ""
        out.write(f"\nEverything a run needs is here{note}.\n")


def _fill(text: str, first: str, rest: str) -> str:
    """Wrapped for a terminal, never inside a path, a command or a package name (they are copied)."""
    return textwrap.fill(
        text,
        _WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_on_hyphens=False,
        break_long_words=False,
    )
