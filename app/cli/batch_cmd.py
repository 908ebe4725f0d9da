"""`ql-station batch create|add|list|show|export|delete|set-policy`."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.context import CliContext
from app.cli.table import print_fields, print_table
from app.domain.batch_file import parse_batch_file
from app.domain.errors import ValidationError
from app.domain.firmware_attributes import describe_filters, parse_pair
from app.domain.input_files import read_capped
from app.domain.paging import check_count, iterate_pages
from app.domain.records import Batch, Device, Page, PageRequest
from app.instance.api import DEFAULT_POLICY
from app.instance.batch_export import ExportFormat, export_batch

SHOW_DEFAULT_LIMIT = 1000
MAX_BATCH_FILE_SIZE = 128 * 1024 * 1024
"""Room for well over a million pretty-printed DeviceIDs; a larger file is not a batch file."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("batch", help="batches of device identities")
    inner = parser.add_subparsers(dest="batch_command", metavar="ACTION", required=True)

    create = inner.add_parser("create", help="create an empty batch")
    create.add_argument("name")
    create.add_argument(
        "--policy", default=DEFAULT_POLICY, help=f"an existing policy's name (default: {DEFAULT_POLICY})"
    )
    create.add_argument("--firmware", help="firmware name devices of this batch should run")
    create.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="attribute filter (repeatable): AND between keys, OR between values of one key",
    )
    create.set_defaults(handler=create_command)

    set_policy = inner.add_parser("set-policy", help="give a batch another policy (from its next enrolments)")
    set_policy.add_argument("batch")
    set_policy.add_argument("policy")
    set_policy.set_defaults(handler=set_policy_command)

    add = inner.add_parser("add", help="add devices by ID or from a batch JSON file")
    add.add_argument("name")
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument("--device", action="append", metavar="ID", help="a 64-hex DeviceID (repeatable)")
    source.add_argument("--file", type=Path, help='JSON file {"devices": ["<64 hex>", ...]}')
    add.add_argument("--json", action="store_true", help="print the result as JSON")
    add.set_defaults(handler=add_command)

    listing = inner.add_parser("list", help="all batches with their counts")
    listing.add_argument("--search", default="", help="only batches whose name contains this")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=list_command)

    show = inner.add_parser("show", help="one batch and its devices")
    show.add_argument("name")
    show.add_argument("--offset", type=int, default=0, help="first device to list")
    show.add_argument("--limit", type=int, default=SHOW_DEFAULT_LIMIT, help="devices to list")
    show.add_argument("--all", action="store_true", help="list every device")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=show_command)

    export = inner.add_parser("export", help="write a batch's DeviceIDs to a JSON (batch file) or CSV file")
    export.add_argument("name")
    export.add_argument("file", type=Path)
    export.add_argument("--format", choices=[f.value for f in ExportFormat], help="default: by the extension")
    export.set_defaults(handler=export_command)

    firmware = inner.add_parser("set-firmware", help="the firmware this batch's devices update to")
    firmware.add_argument("name", metavar="BATCH")
    firmware.add_argument("firmware", metavar="FIRMWARE", help="a firmware name; '' clears it")
    firmware.set_defaults(handler=set_firmware_command)

    delete = inner.add_parser(
        "delete", help="delete a batch and its devices (refused while any device is enrolled)"
    )
    delete.add_argument("name")
    delete.add_argument("--confirm", required=True, metavar="NAME", help="the batch name again, to be sure")
    delete.set_defaults(handler=delete_command)


def _parse_filters(items: list[str]) -> list[tuple[str, str]]:
    return [parse_pair(item, "attribute filter") for item in items]


def create_command(ctx: CliContext, args: argparse.Namespace) -> int:
    batch = ctx.open_instance().create_batch(
        args.name, policy=args.policy, firmware=args.firmware, attribute_filters=_parse_filters(args.filter)
    )
    ctx.out.write(f"created batch {batch.name!r} (policy {batch.policy})\n")
    return 0


def set_policy_command(ctx: CliContext, args: argparse.Namespace) -> int:
    batch = ctx.open_instance().set_batch_policy(args.batch, args.policy)
    ctx.out.write(f"batch {batch.name!r} now has policy {batch.policy!r}\n")
    return 0


def add_command(ctx: CliContext, args: argparse.Namespace) -> int:
    if args.file is not None:
        data = read_capped(args.file, MAX_BATCH_FILE_SIZE, "batch file")
        ids: list[str] = list(parse_batch_file(data, source=str(args.file)))
    else:
        ids = list(args.device)
    result = ctx.open_instance().add_devices(args.name, ids)
    if args.json:
        ctx.print_json(result)
        return 0
    ctx.out.write(f"added {result.added} device(s) to {args.name!r}\n")
    if result.duplicates_in_input:
        ctx.out.write(f"skipped {result.duplicates_in_input} repeated in the input, e.g.:\n")
        for device_id in result.duplicate_samples:
            ctx.out.write(f"  {device_id}\n")
    if result.already_present:
        ctx.out.write(f"skipped {result.already_present} already in the instance, e.g.:\n")
        for device_id, batch in result.present_samples:
            ctx.out.write(f"  {device_id} (in batch {batch!r})\n")
    return 0


def _batch_row(batch: Batch) -> tuple[object, ...]:
    c = batch.counts
    return (batch.name, c.total, c.enrolled, c.expired, c.revoked, batch.policy)


def list_command(ctx: CliContext, args: argparse.Namespace) -> int:
    instance = ctx.open_instance()
    batches = list(iterate_pages(instance.list_batches, search=args.search))
    if args.json:
        ctx.print_json(batches)
    else:
        headers = ["Name", "Devices", "Enrolled", "Expired", "Revoked", "Policy"]
        print_table(ctx.out, headers, [_batch_row(b) for b in batches])
    return 0


def show_command(ctx: CliContext, args: argparse.Namespace) -> int:
    check_count(args.offset, "--offset")
    check_count(args.limit, "--limit")
    instance = ctx.open_instance()
    batch = instance.get_batch(args.name)
    limit = None if args.all else args.limit

    def fetch(page: PageRequest) -> Page[Device]:
        return instance.list_devices(batch.name, page)

    devices = list(iterate_pages(fetch, offset=args.offset, limit=limit))
    if args.json:
        ctx.print_json({"batch": batch, "offset": args.offset, "devices": devices})
        return 0
    c = batch.counts
    print_fields(
        ctx.out,
        [
            ("Batch", batch.name),
            ("Policy", batch.policy),
            ("Firmware", batch.firmware or "-"),
            ("Attribute filters", describe_filters(batch.attribute_filters) or "-"),
            ("Created", batch.created_at.isoformat(timespec="seconds")),
            ("Devices", c.total),
            ("Enrolled", c.enrolled),
            ("Expired", c.expired),
            ("Revoked", c.revoked),
        ],
    )
    ctx.out.write("\n")
    print_table(
        ctx.out,
        ["DeviceID", "State", "Added"],
        [(d.device_id, d.state.value, d.added_at.isoformat(timespec="seconds")) for d in devices],
    )
    shown_to = args.offset + len(devices)
    if shown_to < c.total:
        ctx.out.write(f"... {c.total - shown_to} more (use --offset/--limit or --all)\n")
    return 0


def set_firmware_command(ctx: CliContext, args: argparse.Namespace) -> int:
    batch = ctx.open_instance().set_batch_firmware(args.name, args.firmware or None)
    if batch.firmware is None:
        ctx.out.write(f"batch {batch.name!r} has no firmware now: its devices are offered no update\n")
    else:
        ctx.out.write(f"batch {batch.name!r} now updates its devices to firmware {batch.firmware!r}\n")
    return 0


def export_command(ctx: CliContext, args: argparse.Namespace) -> int:
    fmt = ExportFormat.for_path(args.file, args.format)
    written = export_batch(ctx.open_instance(), args.name, args.file, fmt)
    ctx.out.write(
        f"wrote {written} DeviceID(s) of batch {args.name.strip()!r} to {args.file} ({fmt.value})\n"
    )
    return 0


def delete_command(ctx: CliContext, args: argparse.Namespace) -> int:
    if args.confirm.strip() != args.name.strip():
        raise ValidationError(
            f"--confirm {args.confirm!r} is not the batch name; "
            f"give --confirm {args.name.strip()!r} to delete it"
        )
    instance = ctx.open_instance()
    batch = instance.get_batch(args.name)
    instance.delete_batch(batch.name)
    ctx.out.write(f"deleted batch {batch.name!r} and its {batch.counts.total} device(s)\n")
    return 0
