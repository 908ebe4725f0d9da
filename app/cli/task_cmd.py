"""`ql-station task create|list`: what gets flashed, with which key, on which device type."""

from __future__ import annotations

import argparse

from app.cli.context import CliContext
from app.cli.table import print_table
from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, IefKind, parse_choice
from app.domain.paging import iterate_pages


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("task", help="provisioning tasks")
    inner = parser.add_subparsers(dest="task_command", metavar="ACTION", required=True)

    create = inner.add_parser("create", help="create a provisioning task")
    create.add_argument("name")
    create.add_argument("--device-type", required=True, metavar="|".join(c.value for c in ChipType))
    create.add_argument("--bootloader", required=True, metavar="dev|release")
    create.add_argument("--ief", required=True, metavar="debug|non-debug")
    create.add_argument("--key", required=True, help="signing key name")
    create.add_argument("--bootloader-image", help="catalog image name (default: newest that fits)")
    create.add_argument("--partition-table-image", help="catalog image name (default: newest that fits)")
    create.add_argument("--ief-image", help="catalog image name (default: newest that fits)")
    create.set_defaults(handler=create_command)

    listing = inner.add_parser("list", help="provisioning tasks")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=list_command)


def create_command(ctx: CliContext, args: argparse.Namespace) -> int:
    task = ctx.open_instance().create_task(
        args.name,
        device_type=ChipType.parse(args.device_type),
        bootloader=parse_choice(BootloaderKind, args.bootloader, "--bootloader"),
        ief=parse_choice(IefKind, args.ief, "--ief"),
        signing_key=args.key,
        bootloader_image=args.bootloader_image,
        partition_table_image=args.partition_table_image,
        ief_image=args.ief_image,
    )
    ctx.out.write(
        f"created task {task.name!r}: {task.device_type.display_name}, {task.bootloader.value} bootloader "
        f"({task.bootloader_image}), {task.ief.value} IEF ({task.ief_image}), key {task.signing_key!r}\n"
    )
    return 0


def list_command(ctx: CliContext, args: argparse.Namespace) -> int:
    tasks = list(iterate_pages(ctx.open_instance().list_tasks))
    if args.json:
        ctx.print_json(tasks)
    else:
        rows = [(t.name, t.device_type.value, t.bootloader.value, t.ief.value, t.signing_key) for t in tasks]
        print_table(ctx.out, ["Name", "Device type", "Bootloader", "IEF", "Key"], rows)
    return 0
