"""`ql-station records [--json | --csv FILE]`: every board this station worked on, newest first.

`--flush` sends DeviceIDs that were queued while the instance could not be reached.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.context import CliContext
from app.cli.table import print_table
from app.domain.paging import check_count
from app.domain.records import MAX_PAGE_SIZE, PageRequest
from app.provisioning.device_journal import JournalState
from app.provisioning.device_push import flush_outbox
from app.provisioning.records import CSV_COLUMNS, ProvisioningRecord, RecordsDB, csv_row

DEFAULT_LIMIT = 100


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("records", help="provisioning records: every board this station worked on")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument("--csv", type=Path, metavar="FILE", help="write every matching record to a CSV file")
    parser.add_argument("--search", default="", help="only records mentioning this")
    parser.add_argument("--offset", type=int, default=0, help="skip this many of the newest records")
    parser.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, help=f"how many (default {DEFAULT_LIMIT})"
    )
    parser.add_argument("--flush", action="store_true", help="first send DeviceIDs queued while offline")
    parser.set_defaults(handler=records_command)


def records_command(ctx: CliContext, args: argparse.Namespace) -> int:
    check_count(args.offset, "--offset")
    check_count(args.limit, "--limit", 1, MAX_PAGE_SIZE)
    ctx.data_dir.ensure()
    with RecordsDB(ctx.data_dir.records_db) as records:
        if args.flush:
            recovered = records.journal.recover()
            if recovered:
                ctx.err.write(f"journal: {len(recovered)} DeviceID(s) left unpushed by a stopped station\n")
            report = flush_outbox(ctx.open_instance(), records.journal)
            sent, refused, left = report.pushed, report.refused, report.still_queued
            ctx.err.write(f"outbox: {sent} sent, {refused} refused, {left} still queued\n")
        if args.csv is not None:
            count = records.export_csv(args.csv, search=args.search)
            ctx.out.write(f"wrote {count} record(s) to {args.csv}\n")
            return 0
        page = records.list_records(PageRequest(offset=args.offset, limit=args.limit, search=args.search))
        pending = records.journal.count(JournalState.JOURNALED, JournalState.QUEUED)
    if args.json:
        ctx.print_json(
            {"total": page.total, "offset": page.offset, "records": [_as_json(r) for r in page.items]}
        )
        return 0
    rows = [
        (
            r.at.isoformat(timespec="seconds"),
            r.port,
            r.outcome.value,
            r.chip or "-",
            r.device_id or "-",
            r.batch,
            f"{r.duration_s:.1f} s",
            r.push_state.value,
        )
        for r in page.items
    ]
    print_table(ctx.out, ["When (UTC)", "Port", "Result", "Chip", "DeviceID", "Batch", "Time", "Push"], rows)
    shown_to = page.offset + len(page.items)
    if shown_to < page.total:
        ctx.out.write(f"... {page.total - shown_to} more (use --offset/--limit, or --csv FILE for all)\n")
    if pending:
        ctx.out.write(f"{pending} DeviceID(s) wait in the outbox for the instance; send them with --flush\n")
    return 0


def _as_json(record: ProvisioningRecord) -> dict[str, object]:
    values = dict(zip(CSV_COLUMNS, csv_row(record), strict=True))
    values["image_sha256s"] = list(record.image_sha256s)
    values["duration_s"] = round(record.duration_s, 3)
    return values
