"""`ql-station firmware upload|list|show|delete`: the firmware catalog batches update their devices to.

An upload is an unsigned app build (.bin or Intel .hex); the instance signs it with the named instance
key (`--key`), whose private part never leaves the instance. `batch set-firmware` assigns one to a batch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.context import CliContext
from app.cli.table import print_fields, print_table
from app.domain.chips import ChipType
from app.domain.firmware_attributes import parse_pair
from app.domain.paging import iterate_pages
from app.domain.records import Firmware
from app.flashing.image_file import load_image_file


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("firmware", help="firmwares a batch's devices update to")
    inner = parser.add_subparsers(dest="firmware_command", metavar="ACTION", required=True)

    upload = inner.add_parser("upload", help="check an app build (.bin or Intel .hex), sign it and keep it")
    upload.add_argument("file", type=Path)
    upload.add_argument("--name", required=True, help="catalog name (unique)")
    upload.add_argument("--version", required=True, help="the version devices report when they run it")
    upload.add_argument("--device-type", required=True, metavar="|".join(c.value for c in ChipType))
    upload.add_argument(
        "--attribute", action="append", default=[], metavar="KEY=VALUE", help="attribute (repeatable)"
    )
    upload.add_argument("--key", required=True, help="the instance signing key that signs it")
    upload.set_defaults(handler=upload_command)

    listing = inner.add_parser("list", help="firmwares with how many devices run each")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=list_command)

    show = inner.add_parser("show", help="one firmware")
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=show_command)

    delete = inner.add_parser("delete", help="delete a firmware (refused while a batch uses it)")
    delete.add_argument("name")
    delete.set_defaults(handler=delete_command)


def attributes_text(firmware: Firmware) -> str:
    return ", ".join(f"{key}={value}" for key, value in firmware.attributes) or "-"


def upload_command(ctx: CliContext, args: argparse.Namespace) -> int:
    attributes = [parse_pair(item) for item in args.attribute]
    device_type = ChipType.parse(args.device_type)
    loaded = load_image_file(args.file)
    firmware = ctx.open_instance().upload_firmware(
        args.name, args.version, device_type, attributes, loaded.data, args.key
    )
    ctx.out.write(
        f"uploaded firmware {firmware.name!r} version {firmware.version} ({firmware.device_type.value}): "
        f"{firmware.size} bytes signed with key {firmware.signing_key!r}, sha256 {firmware.sha256}\n"
    )
    return 0


def list_command(ctx: CliContext, args: argparse.Namespace) -> int:
    firmwares = list(iterate_pages(ctx.open_instance().list_firmwares))
    if args.json:
        ctx.print_json(firmwares)
        return 0
    rows = [
        (f.name, f.version, f.device_type.value, attributes_text(f), f.size, f.signing_key, f.devices_running)
        for f in firmwares
    ]
    print_table(ctx.out, ["Name", "Version", "Device type", "Attributes", "Bytes", "Key", "Devices"], rows)
    return 0


def show_command(ctx: CliContext, args: argparse.Namespace) -> int:
    firmware = ctx.open_instance().get_firmware(args.name)
    if args.json:
        ctx.print_json(firmware)
        return 0
    print_fields(
        ctx.out,
        [
            ("Firmware", firmware.name),
            ("Version", firmware.version),
            ("Device type", firmware.device_type.value),
            ("Attributes", attributes_text(firmware)),
            ("Bytes (signed)", firmware.size),
            ("SHA-256 (signed)", firmware.sha256),
            ("Signing key", f"{firmware.signing_key} (digest {firmware.key_digest_hex})"),
            ("Uploaded", firmware.created_at.isoformat(timespec="seconds")),
            ("Devices running it", firmware.devices_running),
        ],
    )
    return 0


def delete_command(ctx: CliContext, args: argparse.Namespace) -> int:
    instance = ctx.open_instance()
    firmware = instance.get_firmware(args.name)
    instance.delete_firmware(firmware.name)
    ctx.out.write(f"deleted firmware {firmware.name!r} (version {firmware.version})\n")
    return 0
