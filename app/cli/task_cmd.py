"""`ql-station task create|list|update|delete`: what gets flashed, with which key, on which device type."""

from __future__ import annotations

import argparse

from app.cli.context import CliContext
from app.cli.table import print_table
from app.domain.chips import ChipType
from app.domain.errors import ValidationError
from app.domain.kinds import BootloaderKind, IefKind, parse_choice
from app.domain.paging import iterate_pages
from app.domain.records import ProvisioningTask
from app.domain.run_options import DEFAULT_ENROL_WAIT_S, FLASH_BAUDS, TaskRunOptions

AUTO = "auto"


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
    add_run_option_arguments(create, DEFAULT_ENROL_WAIT_S)
    create.set_defaults(handler=create_command)

    update = inner.add_parser("update", help="change what a task flashes (only the options given change)")
    update.add_argument("name")
    update.add_argument("--device-type", metavar="|".join(c.value for c in ChipType))
    update.add_argument("--bootloader", metavar="dev|release")
    update.add_argument("--ief", metavar="debug|non-debug")
    update.add_argument("--key", help="signing key name")
    for image in ("bootloader", "partition-table", "ief"):
        update.add_argument(
            f"--{image}-image",
            help="catalog image name (default: kept, or the newest that fits a new choice)",
        )
    add_run_option_arguments(update, None)
    update.set_defaults(handler=update_command)

    delete = inner.add_parser("delete", help="delete a task")
    delete.add_argument("name")
    delete.set_defaults(handler=delete_command)

    listing = inner.add_parser("list", help="provisioning tasks")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=list_command)


def add_run_option_arguments(parser: argparse.ArgumentParser, wait_default: float | None) -> None:
    """`--enrol-wait S` and `--baud B|auto`: the task's run options (app/domain/run_options.py)."""
    kept = "default: kept"
    parser.add_argument(
        "--enrol-wait",
        type=float,
        metavar="SECONDS",
        help="after the DeviceID push, wait up to this long for the board to enrol before it passes; 0: do "
        f"not wait ({kept if wait_default is None else f'default {wait_default:g}'})",
    )
    parser.add_argument(
        "--baud",
        metavar="auto|RATE",
        help=f"flash this task's boards at a fixed rate ({', '.join(map(str, FLASH_BAUDS))}), or auto: the "
        f"fastest each board's USB bridge carries ({kept if wait_default is None else 'default auto'})",
    )


def parse_baud(text: str, option: str = "--baud") -> int | None:
    """`auto` (None: by USB bridge) or a rate from FLASH_BAUDS."""
    if text.strip().lower() == AUTO:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValidationError(f"{option} must be a baud rate (a number) or auto; got {text!r}") from None
    if value not in FLASH_BAUDS:
        raise ValidationError(
            f"{option} {value} is not a flashing rate; pick one of {', '.join(map(str, FLASH_BAUDS))}"
        )
    return value


def _run_options(args: argparse.Namespace, current: TaskRunOptions) -> TaskRunOptions:
    wait = current.enrol_wait_s if args.enrol_wait is None else args.enrol_wait
    baud = current.flash_baud if args.baud is None else parse_baud(args.baud)
    return TaskRunOptions(enrol_wait_s=wait, flash_baud=baud)


def _runs(task: ProvisioningTask) -> str:
    return task.run_options.describe()


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
        run_options=_run_options(args, TaskRunOptions()),
    )
    ctx.out.write(
        f"created task {task.name!r}: {task.device_type.display_name}, {task.bootloader.value} bootloader "
        f"({task.bootloader_image}), {task.ief.value} IEF ({task.ief_image}), key {task.signing_key!r}; "
        f"{_runs(task)}\n"
    )
    return 0


def list_command(ctx: CliContext, args: argparse.Namespace) -> int:
    tasks = list(iterate_pages(ctx.open_instance().list_tasks))
    if args.json:
        ctx.print_json(tasks)
    else:
        rows = [
            (
                t.name,
                t.device_type.value,
                t.bootloader.value,
                t.ief.value,
                t.signing_key,
                f"{t.run_options.enrol_wait_s:g} s" if t.run_options.enrol_wait_s else "off",
                str(t.run_options.flash_baud or AUTO),
            )
            for t in tasks
        ]
        headers = ["Name", "Device type", "Bootloader", "IEF", "Key", "Enrol wait", "Baud"]
        print_table(ctx.out, headers, rows)
    return 0


def update_command(ctx: CliContext, args: argparse.Namespace) -> int:
    """Options not given keep the task's value. An image is kept while its chip and variant stay the same;
    when they change, the newest catalog image that fits the new choice is taken (unless one is named)."""
    instance = ctx.open_instance()
    task = instance.get_task(args.name)
    chip = ChipType.parse(args.device_type) if args.device_type else task.device_type
    bootloader = (
        parse_choice(BootloaderKind, args.bootloader, "--bootloader") if args.bootloader else task.bootloader
    )
    ief = parse_choice(IefKind, args.ief, "--ief") if args.ief else task.ief
    same_chip = chip is task.device_type
    updated = instance.update_task(
        task.name,
        device_type=chip,
        bootloader=bootloader,
        ief=ief,
        signing_key=args.key or task.signing_key,
        bootloader_image=args.bootloader_image
        or (task.bootloader_image if same_chip and bootloader is task.bootloader else None),
        partition_table_image=args.partition_table_image
        or (task.partition_table_image if same_chip else None),
        ief_image=args.ief_image or (task.ief_image if same_chip and ief is task.ief else None),
        run_options=_run_options(args, task.run_options),
    )
    ctx.out.write(
        f"updated task {updated.name!r}: {updated.device_type.display_name}, {updated.bootloader.value} "
        f"bootloader ({updated.bootloader_image}), {updated.ief.value} IEF ({updated.ief_image}), "
        f"key {updated.signing_key!r}; {_runs(updated)}\n"
    )
    return 0


def delete_command(ctx: CliContext, args: argparse.Namespace) -> int:
    instance = ctx.open_instance()
    task = instance.get_task(args.name)
    instance.delete_task(task.name)
    ctx.out.write(f"deleted task {task.name!r}\n")
    return 0
