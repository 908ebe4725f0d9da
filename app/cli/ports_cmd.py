"""`ql-station ports [--json]`: the serial ports boards can be on, real and virtual."""

from __future__ import annotations

import argparse

from app.cli.context import CliContext
from app.cli.table import print_table
from app.ports.discovery import PortInfo, list_all_ports


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("ports", help="serial ports with (likely) boards, and running virtual boards")
    parser.add_argument(
        "--include-other",
        action="store_true",
        help="also list non-USB serial ports",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=ports_command)


def ports_command(ctx: CliContext, args: argparse.Namespace) -> int:
    ports = list_all_ports(ctx.data_dir.sim_registry, include_other=args.include_other)
    if args.json:
        ctx.print_json([_as_json(p) for p in ports])
        return 0
    rows = [(p.url, p.kind.value, _board(p), p.description) for p in ports]
    print_table(ctx.out, ["Port", "Kind", "Board", "Description"], rows)
    return 0


def _board(port: PortInfo) -> str:
    if port.chip is not None:
        return f"{port.chip.display_name} {port.mac or ''}".strip()
    if port.bridge is not None:
        return "likely ESP32"
    return "-"


def _as_json(port: PortInfo) -> dict[str, object]:
    return {
        "url": port.url,
        "kind": port.kind.value,
        "description": port.description,
        "usb_id": port.usb_id,
        "serial_number": port.serial_number,
        "location": port.location,
        "bridge": port.bridge.label if port.bridge is not None else None,
        "reset_style": port.reset_style.value,
        "chip": port.chip.value if port.chip is not None else None,
        "mac": port.mac,
        "name": port.name,
        "likely_esp": port.likely_esp,
    }
