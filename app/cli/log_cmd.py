"""`ql-station log [--search TEXT]`: the instance activity log, newest first."""

from __future__ import annotations

import argparse

from app.cli.context import CliContext
from app.cli.table import print_table
from app.domain.paging import check_count, iterate_pages

DEFAULT_LIMIT = 100


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("log", help="the instance activity log (who did what, when)")
    parser.add_argument("--search", default="", help="only entries mentioning this text")
    parser.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, help=f"entries to show (default {DEFAULT_LIMIT})"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=log_command)


def log_command(ctx: CliContext, args: argparse.Namespace) -> int:
    limit = check_count(args.limit, "--limit")
    entries = list(iterate_pages(ctx.open_instance().list_activity, search=args.search, limit=limit))
    if args.json:
        ctx.print_json(entries)
    else:
        rows = [(e.at.isoformat(timespec="seconds"), e.actor, e.action, e.target, e.details) for e in entries]
        print_table(ctx.out, ["When (UTC)", "Who", "Action", "Target", "Details"], rows)
    return 0
