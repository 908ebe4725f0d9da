"""`ql-station board ...`: the lab bench for one board at a time.

    board info           --port URL [--json]
    board efuses         --port URL [--virtual] [--json]
    board reset-vefuses  --port URL --confirm MAC
    board erase-settings --port URL --confirm MAC
    board read-flash     --port URL OFFSET SIZE FILE
    board erase-flash    --port URL --confirm MAC
    board monitor        --port URL [--reset firmware|download|none] [--save FILE] [--seconds N]
                         [--mask-file PATH]        keys: r reset, d download mode, q / Ctrl-] quit
    board reprovision    --port URL --task TASK --confirm MAC --batch B --ssid S --password-stdin [--json]

Each command reserves the port as provisioning does, so a board being provisioned is never touched, and
ends in `error: ...` (exit 2) for bad input and for refusals, with the reason. The work itself is in
app/flashing/board_bench.py, which the window's Board page drives the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.cli.context import CliContext
from app.cli.monitor_keys import HELP as KEYS_HELP
from app.cli.monitor_keys import reading_keys
from app.cli.provision_cmd import add_wifi_arguments, read_password, run_jobs
from app.cli.table import print_fields, print_table
from app.domain.errors import ValidationError
from app.flashing.board_bench import SETTINGS_LOST, BoardBench, facts_fields, parse_size
from app.flashing.serial_monitor import MonitorControl, ResetKind, monitor
from app.ports.reservation import reserve_port
from app.provisioning import serial_urls
from app.provisioning.bench_session import SIM_AP_PASSWORD_FILE, board_history
from app.provisioning.job import Redactor
from app.provisioning.job_builder import job_for_request
from app.provisioning.lab_loop import check_dev_task
from app.provisioning.records import ProvisioningRecord
from app.provisioning.run_request import RunRequest

HISTORY_LIMIT = 20


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("board", help="lab bench: look at and reset one board")
    sub = parser.add_subparsers(dest="board_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str, confirm: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--port", required=True, metavar="URL", help="serial port or pyserial URL")
        if confirm:
            p.add_argument(
                "--confirm", required=True, metavar="MAC", help="the board's MAC, typed to confirm"
            )
        return p

    info = action("info", "chip, MAC, flash, security, build kind and this station's records of the board")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(handler=_info)
    efuses = action("efuses", "the chip's eFuses (espefuse), and a veFuse build's virtual ones beside them")
    efuses.add_argument("--virtual", action="store_true", help="add the virtual eFuses of a veFuse build")
    efuses.add_argument("--json", action="store_true", help="print JSON")
    efuses.set_defaults(handler=_efuses)
    action("reset-vefuses", "erase a dev build's virtual eFuses (efuse_em), so it takes another key", True)
    sub.choices["reset-vefuses"].set_defaults(handler=_reset_vefuses)
    action("erase-settings", f"erase the IEF's stored settings (nvs); this loses {SETTINGS_LOST}", True)
    sub.choices["erase-settings"].set_defaults(handler=_erase_settings)
    read = action("read-flash", "copy a flash region to a file (a backup before an experiment)")
    read.add_argument("offset", metavar="OFFSET", help="start, e.g. 0x0 or 0x8000")
    read.add_argument("size", metavar="SIZE", help="bytes, e.g. 0x400000, 4096 or 64K")
    read.add_argument("file", metavar="FILE", type=Path, help="where to write the bytes")
    read.set_defaults(handler=_read_flash)
    action("erase-flash", "erase the whole flash", True).set_defaults(handler=_erase_flash)
    mon = action("monitor", "the board's console, live (r resets, d resets into download mode, q quits)")
    mon.add_argument(
        "--reset",
        choices=[k.value for k in ResetKind],
        default=ResetKind.FIRMWARE.value,
        help="how to reset the board when the monitor starts (default: into its firmware)",
    )
    mon.add_argument("--save", type=Path, metavar="FILE", help="also write the (masked) console to FILE")
    mon.add_argument("--seconds", type=float, metavar="N", help="stop after N seconds")
    mon.add_argument("--mask-file", type=Path, metavar="PATH", help="file holding a secret to mask")
    mon.set_defaults(handler=_monitor)
    again = action(
        "reprovision",
        "lab loop on a dev (veFuse) board: reset its virtual eFuses, then provision it with TASK",
        True,
    )
    again.add_argument("--task", required=True, help="a dev (veFuse) provisioning task")
    again.add_argument("--batch", required=True, help="batch the board's DeviceID is added to")
    add_wifi_arguments(again)
    again.add_argument("--json", action="store_true", help="print the event stream as JSON lines")
    again.set_defaults(handler=_reprovision)


@contextlib.contextmanager
def _bench(ctx: CliContext, port: str, action: str) -> Iterator[BoardBench]:
    serial_urls.install()  # the quick RFC 2217 client for virtual boards, as the port workers use
    ctx.data_dir.ensure()
    with reserve_port(ctx.data_dir.root, port, f"ql-station board {action}"), BoardBench.open(port) as bench:
        yield bench


# ---------------------------------------------------------------------- looking
def _info(ctx: CliContext, args: argparse.Namespace) -> int:
    with _bench(ctx, args.port, "info") as bench:
        facts = bench.facts
    history = _history(ctx, facts.mac)
    if args.json:
        ctx.print_json({**facts.to_json(), "history": [_record_json(r) for r in history]})
        return 0
    print_fields(ctx.out, facts_fields(facts))
    ctx.out.write(f"\nStation records of this board ({len(history)}):\n")
    rows = [
        (r.at.strftime("%Y-%m-%d %H:%M"), r.mode, r.task, r.batch, r.outcome.value, r.device_id[:16])
        for r in history
    ]
    print_table(ctx.out, ["at", "mode", "task", "batch", "outcome", "DeviceID"], rows)
    return 0


def _history(ctx: CliContext, mac: str | None) -> list[ProvisioningRecord]:
    return board_history(ctx.data_dir.root, mac, HISTORY_LIMIT)


def _record_json(record: ProvisioningRecord) -> dict[str, Any]:
    return {
        "at": record.at.isoformat(),
        "mode": record.mode,
        "task": record.task,
        "batch": record.batch,
        "outcome": record.outcome.value,
        "device_id": record.device_id,
        "error": record.error,
    }


def _efuses(ctx: CliContext, args: argparse.Namespace) -> int:
    with _bench(ctx, args.port, "efuses") as bench:
        table = bench.efuses(virtual=args.virtual)
    if args.json:
        rows = [
            {"name": r.name, "block": r.block, "real": r.real, "virtual": r.virtual, "differs": r.differs}
            for r in table.rows
        ]
        ctx.print_json({"virtual_note": table.virtual_note, "efuses": rows})
        return 0
    if any(r.virtual is not None for r in table.rows):
        ctx.out.write(f"{table.virtual_note}; '*' marks a virtual value that differs from the chip's\n")
        rows_v = [("*" if r.differs else "", r.name, r.block, r.real, r.virtual or "") for r in table.rows]
        print_table(ctx.out, ["", "eFuse", "block", "real", "virtual"], rows_v)
    else:
        if table.virtual_note:
            ctx.out.write(table.virtual_note + "\n")
        print_table(ctx.out, ["eFuse", "block", "value"], [(r.name, r.block, r.real) for r in table.rows])
    return 0


def _read_flash(ctx: CliContext, args: argparse.Namespace) -> int:
    offset, size = parse_size(args.offset, "OFFSET"), parse_size(args.size, "SIZE")
    target: Path = args.file
    if target.exists() and target.is_dir():
        raise ValidationError(f"FILE {target} is a folder; name a file")
    if not target.parent.is_dir():
        raise ValidationError(f"FILE {target}: the folder {target.parent} does not exist")
    with _bench(ctx, args.port, "read-flash") as bench:
        data = bench.read_flash(offset, size)
    try:
        target.write_bytes(data)
    except OSError as exc:
        raise ValidationError(f"cannot write {target}: {exc.strerror}") from None
    ctx.out.write(f"read {len(data)} bytes at {offset:#x} from {bench.facts.mac} into {target}\n")
    return 0


# ---------------------------------------------------------------------- changing
def _reset_vefuses(ctx: CliContext, args: argparse.Namespace) -> int:
    with _bench(ctx, args.port, "reset-vefuses") as bench:
        ctx.out.write(bench.reset_vefuses(args.confirm) + "\n")
    return 0


def _erase_settings(ctx: CliContext, args: argparse.Namespace) -> int:
    with _bench(ctx, args.port, "erase-settings") as bench:
        ctx.out.write(bench.erase_settings(args.confirm) + "\n")
    return 0


def _erase_flash(ctx: CliContext, args: argparse.Namespace) -> int:
    with _bench(ctx, args.port, "erase-flash") as bench:
        ctx.out.write(bench.erase_flash(args.confirm) + "\n")
    return 0


def _monitor(ctx: CliContext, args: argparse.Namespace) -> int:
    if args.seconds is not None and not args.seconds > 0:
        raise ValidationError("--seconds must be more than 0")
    save = _open_save_file(args.save)
    mask = Redactor(*_secrets(ctx, args.mask_file))
    serial_urls.install()
    ctx.data_dir.ensure()
    control = MonitorControl()

    def note(text: str) -> None:
        ctx.err.write(f"-- {text}\n")
        ctx.err.flush()

    def show(line: str) -> None:
        ctx.out.write(line + "\n")
        ctx.out.flush()
        if save is not None:
            save.write(line + "\n")

    try:
        with reserve_port(ctx.data_dir.root, args.port, "ql-station board monitor"):
            ctx.err.write(f"monitoring {args.port} at 115200; {KEYS_HELP}\n")
            with contextlib.suppress(KeyboardInterrupt), reading_keys(sys.stdin, control, note):
                monitor(
                    args.port,
                    show,
                    mask=mask,
                    control=control,
                    seconds=args.seconds,
                    reset=ResetKind(args.reset),
                )
    finally:
        if save is not None:
            save.close()
    ctx.err.write("monitor stopped" + (f"; console saved to {args.save}" if save is not None else "") + "\n")
    return 0


def _open_save_file(path: Path | None) -> Any:
    if path is None:
        return None
    if path.is_dir():
        raise ValidationError(f"--save {path} is a folder; name a file")
    try:
        return path.open("w", encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"--save {path}: cannot write it ({exc.strerror})") from None


def _reprovision(ctx: CliContext, args: argparse.Namespace) -> int:
    """Reset the board's virtual eFuses, then provision it with the task: the lab loop in one command."""
    password = read_password()
    instance = ctx.open_instance(deliver=False)  # the supervisor delivers the outbox first itself
    check_dev_task(args.task, instance.get_task(args.task).bootloader)  # before anything else
    request = RunRequest(args.task, args.batch, args.ssid, password)
    job = job_for_request(instance, request).for_port(args.port)
    serial_urls.install()
    ctx.data_dir.ensure()
    with _bench(ctx, args.port, "reprovision") as bench:
        ctx.out.write(bench.reset_vefuses(args.confirm) + "\n")
    return run_jobs(ctx, instance, [job], json_mode=args.json)


def _secrets(ctx: CliContext, mask_file: Path | None) -> list[str]:
    """The secrets to mask: the given file's, and the simulated access point's password if there is one."""
    paths = [ctx.data_dir.sim_boards / SIM_AP_PASSWORD_FILE]
    if mask_file is not None:
        if not mask_file.is_file():
            raise ValidationError(f"--mask-file {mask_file} is not a readable file")
        paths.insert(0, mask_file)
    found = []
    for path in paths:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            found.append(path.read_text(encoding="utf-8").rstrip("\r\n"))
    return [s for s in found if s]
