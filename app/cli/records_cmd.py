"""`ql-station records [filters] [--json | --csv FILE]`: every board this station worked on, newest first.

`ql-station records export FILE [--format csv|json] [filters]` writes every matching record, its step
log included, to FILE (the format follows the file name unless `--format` says). The filters are the
Records page's: `--search`, `--outcome`, `--batch`, `--task`, `--operator`, `--since`, `--until`
(dates or dates and times; without a time zone they are local time).
`--flush` sends DeviceIDs that were queued while the instance could not be reached.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.context import CliContext
from app.cli.table import print_table
from app.domain.errors import ValidationError
from app.domain.paging import check_count
from app.domain.records import MAX_PAGE_SIZE, PageRequest
from app.provisioning.device_journal import JournalState
from app.provisioning.device_push import deliver_owed
from app.provisioning.record_export import ExportFormat, as_json, format_for
from app.provisioning.record_query import RecordFilter, outcome_filter, parse_moment
from app.provisioning.records import RecordsDB

DEFAULT_LIMIT = 100
EXPORT = "export"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "records",
        help="provisioning records: every board this station worked on",
        description="List the provisioning records, or `records export FILE` to write them to a file.",
    )
    parser.add_argument("action", nargs="?", metavar="export", help="export: write the records to FILE")
    parser.add_argument("file", nargs="?", type=Path, metavar="FILE", help="the file `export` writes")
    parser.add_argument("--format", choices=[f.value for f in ExportFormat], help="export format")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument("--csv", type=Path, metavar="FILE", help="write every matching record to a CSV file")
    parser.add_argument("--search", default="", help="only records mentioning this")
    parser.add_argument(
        "--outcome", help="only pass, fail or cancelled; warning: only the passes with a warning"
    )
    parser.add_argument("--batch", default="", help="only records of this batch")
    parser.add_argument("--task", default="", help="only records of this task")
    parser.add_argument("--operator", default="", help="only records of this operator")
    parser.add_argument("--since", metavar="WHEN", help="from this date or time (2025-03-01T14:00)")
    parser.add_argument("--until", metavar="WHEN", help="up to this date (that whole day) or time")
    parser.add_argument("--offset", type=int, default=0, help="skip this many of the newest records")
    parser.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, help=f"how many (default {DEFAULT_LIMIT})"
    )
    parser.add_argument("--flush", action="store_true", help="first send DeviceIDs queued while offline")
    parser.set_defaults(handler=records_command)


def record_filter(args: argparse.Namespace) -> RecordFilter:
    outcome, warned = outcome_filter(args.outcome) if args.outcome else (None, False)
    return RecordFilter(
        search=args.search,
        outcome=outcome,
        warned=warned,
        batch=args.batch.strip(),
        task=args.task.strip(),
        operator=args.operator.strip(),
        since=parse_moment(args.since, "--since") if args.since else None,
        until=parse_moment(args.until, "--until", end_of_day=True) if args.until else None,
    )


def _check_action(args: argparse.Namespace) -> None:
    if args.action == EXPORT and args.file is None:
        raise ValidationError("records export needs the FILE to write (records export records.csv)")
    if args.action not in (None, EXPORT):
        raise ValidationError(f"unexpected {args.action!r}: did you mean `records export {args.action}`?")
    if args.action == EXPORT and (args.json or args.csv is not None):
        raise ValidationError("records export writes FILE; --json and --csv are for listing")
    if args.format and args.action != EXPORT:
        raise ValidationError("--format is for `records export FILE`")


def records_command(ctx: CliContext, args: argparse.Namespace) -> int:
    _check_action(args)
    check_count(args.offset, "--offset")
    check_count(args.limit, "--limit", 1, MAX_PAGE_SIZE)
    where = record_filter(args)
    ctx.data_dir.ensure()
    with RecordsDB(ctx.data_dir.records_db) as records:
        if args.flush:
            recovered, report = deliver_owed(ctx.open_instance(deliver=False), records.journal)
            if recovered:
                ctx.err.write(f"journal: {recovered} DeviceID(s) left unpushed by a stopped station\n")
            sent, refused, left = report.pushed, report.refused, report.still_queued
            ctx.err.write(f"outbox: {sent} sent, {refused} refused, {left} still queued\n")
        if args.action == EXPORT or args.csv is not None:
            path = args.file if args.action == EXPORT else args.csv
            fmt = format_for(path, args.format) if args.action == EXPORT else ExportFormat.CSV
            count = records.export(path, fmt, where)
            ctx.out.write(f"wrote {count} record(s) to {path} ({fmt.value.upper()})\n")
            return 0
        page = records.list_records(PageRequest(offset=args.offset, limit=args.limit), where)
        pending = records.journal.count(JournalState.JOURNALED, JournalState.QUEUED)
    if args.json:
        listed = [as_json(r) for r in page.items]
        ctx.print_json({"total": page.total, "offset": page.offset, "records": listed})
        return 0
    rows = [
        (
            r.at.isoformat(timespec="seconds"),
            r.port,
            f"{r.outcome.value} (warning)" if r.warning else r.outcome.value,
            r.step or "-",
            r.chip or "-",
            r.device_id or "-",
            r.batch,
            f"{r.duration_s:.1f} s",
            r.push_state.value,
        )
        for r in page.items
    ]
    print_table(
        ctx.out, ["When (UTC)", "Port", "Result", "Step", "Chip", "DeviceID", "Batch", "Time", "Push"], rows
    )
    shown_to = page.offset + len(page.items)
    if shown_to < page.total:
        ctx.out.write(f"... {page.total - shown_to} more (use --offset/--limit, or export FILE for all)\n")
    for r in page.items:
        if r.warning:
            ctx.out.write(
                f"{r.at.isoformat(timespec='seconds')} {r.port}: passed with a warning: {r.warning}\n"
            )
    if pending:
        ctx.out.write(f"{pending} DeviceID(s) wait in the outbox for the instance; send them with --flush\n")
    return 0
