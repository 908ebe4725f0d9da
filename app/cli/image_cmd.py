"""`ql-station image import|list`: the image catalog (a person's own images and simulation images)."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.context import CliContext
from app.cli.table import print_table
from app.domain.chips import ChipType
from app.domain.kinds import ImageKind, parse_choice
from app.domain.paging import iterate_pages
from app.domain.records import FirmwareImage, Page, PageRequest
from app.flashing.image_file import load_image_file


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("image", help="firmware image catalog")
    inner = parser.add_subparsers(dest="image_command", metavar="ACTION", required=True)

    imp = inner.add_parser("import", help="check and add an image (.bin or Intel .hex)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--name", help="catalog name (default: the file name)")
    imp.add_argument("--device-type", required=True, metavar="|".join(c.value for c in ChipType))
    imp.add_argument("--kind", required=True, metavar="|".join(k.value for k in ImageKind))
    imp.add_argument(
        "--variant", default="", help="bootloader: dev|release; IEF: debug|non-debug; partition table: none"
    )
    imp.set_defaults(handler=import_command)

    listing = inner.add_parser("list", help="images in the catalog")
    listing.add_argument("--device-type", metavar="TYPE", help="only images for this device type")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=list_command)


def import_command(ctx: CliContext, args: argparse.Namespace) -> int:
    loaded = load_image_file(args.file)
    image = ctx.open_instance().import_image(
        args.name or args.file.name,
        ChipType.parse(args.device_type),
        parse_choice(ImageKind, args.kind, "--kind"),
        args.variant,
        loaded.data,
    )
    ctx.out.write(f"imported {image.name!r}: {image.size} bytes, sha256 {image.sha256}\n")
    return 0


def list_command(ctx: CliContext, args: argparse.Namespace) -> int:
    instance = ctx.open_instance()
    device_type = ChipType.parse(args.device_type) if args.device_type else None

    def fetch(page: PageRequest) -> Page[FirmwareImage]:
        return instance.list_images(page, device_type=device_type)

    images = list(iterate_pages(fetch))
    if args.json:
        ctx.print_json(images)
    else:
        rows = [
            (
                i.name,
                i.device_type.value,
                i.kind.value,
                i.variant or "-",
                i.size,
                "yes" if i.simulation else "",
            )
            for i in images
        ]
        print_table(ctx.out, ["Name", "Device type", "Kind", "Variant", "Bytes", "Simulation"], rows)
    return 0
