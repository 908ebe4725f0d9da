"""The image catalog: bootloaders, partition tables and IEFs per device type, checked before storing.

Every image is checked with the same code that checks an image before it is flashed
(`app.flashing.esp_image.check_image`), so the catalog never holds something that would be refused at the
board. Images are stored unsigned: the instance signs them with a task's key when the task is used.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from app.domain.chips import FACTORY_APP_OFFSET, PARTITION_TABLE_OFFSET, ChipType
from app.domain.errors import ConflictError, NotFoundError, ValidationError
from app.domain.kinds import BootloaderKind, IefKind, ImageKind, parse_choice
from app.domain.names import validate_name
from app.domain.records import FirmwareImage, Page, PageRequest
from app.flashing.esp_image import check_image
from app.flashing.partition_table import parse_partition_table
from app.instance.local.database import from_ms, now_ms
from app.system.sqlite_paging import fetch_page, search_clause

PARTITION_TABLE_MAX_SIZE = 0xC00
_COLUMNS = "name, device_type, kind, variant, size, sha256, simulation, created_ms"


@dataclass(frozen=True)
class CheckedImage:
    """An image that passed the checks, ready to store."""

    name: str
    device_type: ChipType
    kind: ImageKind
    variant: str
    sha256: str
    data: bytes


@dataclass(frozen=True)
class StoredImage:
    id: int
    name: str
    kind: ImageKind
    data: bytes


def check(name: str, device_type: ChipType, kind: ImageKind, variant: str, data: bytes) -> CheckedImage:
    """Validate everything about an image to import; no database needed, so it runs outside the lock."""
    image_name = validate_name(name, "image")
    if not isinstance(device_type, ChipType):
        raise ValidationError(f"device type must be one of {', '.join(c.value for c in ChipType)}")
    if not isinstance(kind, ImageKind):
        raise ValidationError(f"image kind must be one of {', '.join(k.value for k in ImageKind)}")
    checked_variant = check_variant(kind, variant)
    if not isinstance(data, bytes | bytearray):
        raise ValidationError("image data must be bytes")
    summary = check_image(bytes(data), device_type, kind, max_size=max_size(device_type, kind))
    if summary.signed:
        raise ValidationError(
            f"the {kind.value} image is already signed; import the unsigned image, the instance signs it "
            "with the task's key when the task is used"
        )
    return CheckedImage(image_name, device_type, kind, checked_variant, summary.sha256, bytes(data))


def check_variant(kind: ImageKind, variant: str) -> str:
    """Bootloaders are 'dev' or 'release', IEFs 'debug' or 'non-debug'; partition tables have none."""
    text = (variant or "").strip().lower()
    if kind is ImageKind.BOOTLOADER:
        return parse_choice(BootloaderKind, text, "a bootloader image's variant").value
    if kind is ImageKind.IEF:
        return parse_choice(IefKind, text, "an IEF image's variant").value
    if text:
        raise ValidationError(f"a partition table has no variant; got {variant!r} (leave it empty)")
    return ""


def max_size(device_type: ChipType, kind: ImageKind) -> int | None:
    """Room before the next image: a bootloader must end before the partition table."""
    if kind is ImageKind.BOOTLOADER:
        return PARTITION_TABLE_OFFSET - device_type.bootloader_offset
    if kind is ImageKind.PARTITION_TABLE:
        return PARTITION_TABLE_MAX_SIZE
    return None


def insert(conn: sqlite3.Connection, image: CheckedImage, *, simulation: bool = False) -> FirmwareImage:
    if conn.execute("SELECT 1 FROM images WHERE name = ?", (image.name,)).fetchone() is not None:
        raise ConflictError(f"an image named {image.name!r} already exists")
    created = now_ms()
    conn.execute(
        "INSERT INTO images (name, device_type, kind, variant, size, sha256, simulation, data, created_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            image.name,
            image.device_type.value,
            image.kind.value,
            image.variant,
            len(image.data),
            image.sha256,
            int(simulation),
            image.data,
            created,
        ),
    )
    return FirmwareImage(
        name=image.name,
        device_type=image.device_type,
        kind=image.kind,
        variant=image.variant,
        size=len(image.data),
        sha256=image.sha256,
        simulation=simulation,
        created_at=from_ms(created),
    )


def list_images(
    conn: sqlite3.Connection, page: PageRequest, device_type: ChipType | None
) -> Page[FirmwareImage]:
    """By name; `page.search` is a substring of the name, kind or variant."""
    where, params = search_clause(("name", "kind", "variant"), page.search)
    if device_type is not None:
        where, params = f"{where} AND device_type = ?", [*params, device_type.value]
    return fetch_page(
        conn,
        select=_COLUMNS,
        table="images",
        where=where,
        params=params,
        order_by="name",
        page=page,
        row_to_item=_image,
    )


def resolve(
    conn: sqlite3.Connection, name: str | None, device_type: ChipType, kind: ImageKind, variant: str
) -> tuple[int, str]:
    """The image a task uses: the named one (which must fit), or the newest of that type/kind/variant."""
    wanted = f"{device_type.value} {kind.value}" + (f" ({variant})" if variant else "")
    if name is None:
        row = conn.execute(
            "SELECT id, name FROM images WHERE device_type = ? AND kind = ? AND variant = ? "
            "ORDER BY created_ms DESC, id DESC LIMIT 1",
            (device_type.value, kind.value, variant),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"the image catalog has no {wanted} image; import one first")
        return int(row[0]), str(row[1])
    row = conn.execute(
        "SELECT id, name, device_type, kind, variant FROM images WHERE name = ?", (name.strip(),)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"there is no image named {name.strip()!r}")
    found = f"{row[2]} {row[3]}" + (f" ({row[4]})" if row[4] else "")
    if (row[2], row[3], row[4]) != (device_type.value, kind.value, variant):
        raise ValidationError(f"image {row[1]!r} is a {found} image; this task needs a {wanted} image")
    return int(row[0]), str(row[1])


def check_ief_fits(conn: sqlite3.Connection, table_id: int, ief_id: int) -> None:
    """Refuse a task whose IEF is larger than the factory app partition of its partition table."""
    table, ief = stored(conn, table_id), stored(conn, ief_id)
    factory = parse_partition_table(table.data).app_at(FACTORY_APP_OFFSET)
    if factory is None:
        raise ValidationError(
            f"partition table {table.name!r} has no app partition at {FACTORY_APP_OFFSET:#x} for the IEF"
        )
    if len(ief.data) > factory.size:
        raise ValidationError(
            f"IEF image {ief.name!r} is {len(ief.data)} bytes but partition table {table.name!r} gives "
            f"the IEF partition only {factory.size} bytes ({factory.size:#x}); choose a larger partition "
            "table"
        )


def stored(conn: sqlite3.Connection, image_id: int) -> StoredImage:
    row = conn.execute("SELECT id, name, kind, data FROM images WHERE id = ?", (image_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"image #{image_id} is missing from the catalog")
    return StoredImage(id=row[0], name=row[1], kind=ImageKind(row[2]), data=bytes(row[3]))


def _image(row: tuple[Any, ...]) -> FirmwareImage:
    return FirmwareImage(
        name=row[0],
        device_type=ChipType(row[1]),
        kind=ImageKind(row[2]),
        variant=row[3],
        size=row[4],
        sha256=row[5],
        simulation=bool(row[6]),
        created_at=from_ms(row[7]),
    )
