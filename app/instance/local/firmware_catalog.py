"""The firmware catalog: app images a batch's devices update to, signed by an instance key at upload.

An upload is checked first as the board will judge it (an ESP app image for the stated chip, unsigned,
with flash-mapped segments), then signed with Secure Boot V2 by the named instance key inside the
instance (the private key never leaves it) and the signature verified; the signed bytes are what is
stored and what devices download. A firmware used by a batch cannot be deleted. Which devices run a
firmware is counted by its identity, not its version (two builds for two chips may share one): the
firmware each enrolled device's last report was matched to (`device_certificates.note_firmware`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from app.domain.chips import ChipType
from app.domain.errors import ConflictError, NotFoundError, ValidationError
from app.domain.firmware_attributes import (
    describe_filters,
    passes,
    unique_keys,
    validate_attributes,
    validate_version,
)
from app.domain.kinds import ImageKind
from app.domain.names import validate_name
from app.domain.records import Batch, Firmware, Page, PageRequest, SigningKey
from app.flashing.esp_image import ESP_IMAGE_MAGIC, check_image
from app.instance.local import batches
from app.instance.local.database import from_ms, now_ms
from app.instance.local.signing import sign_verified
from app.system.sqlite_paging import fetch_page, search_clause

_RUNNING = "(SELECT count(*) FROM device_certificates AS c WHERE c.firmware_id = firmwares.id)"
_COLUMNS = (
    f"name, version, device_type, attributes, size, sha256, signing_key, key_digest, created_ms, {_RUNNING}"
)
_CHIP_ID_OFFSET = 12  # the chip id in an ESP image's extended header (u16, little-endian)


@dataclass(frozen=True)
class CheckedUpload:
    """An upload that passed every check that needs no database; signed later, outside the lock."""

    name: str
    version: str
    device_type: ChipType
    attributes: tuple[tuple[str, str], ...]
    key: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class OfferedFirmware:
    """What a device is told of its batch's firmware (the image itself is read only for a download)."""

    name: str
    version: str
    device_type: ChipType
    attributes: tuple[tuple[str, str], ...]
    size: int
    sha256: str


def check_upload(
    name: str,
    version: str,
    device_type: ChipType,
    attributes: Any,
    data: bytes,
    key: str,
) -> CheckedUpload:
    firmware_name = validate_name(name, "firmware")
    checked_version = validate_version(version)
    if not isinstance(device_type, ChipType):
        raise ValidationError(f"device type must be one of {', '.join(c.value for c in ChipType)}")
    pairs = unique_keys(validate_attributes(attributes))
    key_name = validate_name(key, "signing key")
    if not isinstance(data, bytes | bytearray):
        raise ValidationError("firmware data must be bytes")
    image = bytes(data)
    check_app_image(image, device_type)
    return CheckedUpload(firmware_name, checked_version, device_type, pairs, key_name, image)


def check_app_image(data: bytes, device_type: ChipType) -> None:
    """An unsigned ESP app image for `device_type`; a build for another chip gets its own sentence."""
    if len(data) >= _CHIP_ID_OFFSET + 2 and data[0] == ESP_IMAGE_MAGIC:
        chip_id = int.from_bytes(data[_CHIP_ID_OFFSET : _CHIP_ID_OFFSET + 2], "little")
        if chip_id != device_type.profile.image_chip_id:
            found = ChipType.from_image_chip_id(chip_id)
            built_for = (
                f"{found.display_name} ({found.value})" if found else f"an unknown chip (id {chip_id})"
            )
            raise ValidationError(
                f"wrong chip: this firmware is built for {built_for}, not {device_type.display_name} "
                f"({device_type.value}); upload it with the device type it was built for, or choose the "
                f"{device_type.value} build"
            )
    try:
        summary = check_image(data, device_type, ImageKind.IEF)
    except ValidationError as exc:
        raise ValidationError(f"not an ESP app image for {device_type.display_name}: {exc}") from None
    if summary.signed:
        raise ValidationError(
            "the firmware is already signed (it ends in a Secure Boot V2 signature sector); upload the "
            "unsigned build: the instance signs it with the key you name"
        )


def sign(upload: CheckedUpload, key: SigningKey, private_key_pem: bytes) -> bytes:
    """Sign with the instance key and verify the result with its public part before it is kept."""
    what = f"firmware {upload.name!r} signed with key {key.name!r}"
    return sign_verified(upload.data, private_key_pem, key.public_key_pem, what)


def check_new_name(conn: sqlite3.Connection, name: str) -> None:
    if conn.execute("SELECT 1 FROM firmwares WHERE name = ?", (name,)).fetchone() is not None:
        raise ConflictError(
            f"a firmware named {name!r} already exists; give the new build another name "
            "(e.g. with its version) or delete the old one first"
        )


def insert(conn: sqlite3.Connection, upload: CheckedUpload, key: SigningKey, signed: bytes) -> Firmware:
    check_new_name(conn, upload.name)
    created = now_ms()
    digest = hashlib.sha256(signed).hexdigest()
    conn.execute(
        "INSERT INTO firmwares (name, version, device_type, attributes, size, sha256, signing_key, "
        "key_digest, image, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            upload.name,
            upload.version,
            upload.device_type.value,
            json.dumps(upload.attributes),
            len(signed),
            digest,
            key.name,
            key.key_digest_hex,
            signed,
            created,
        ),
    )
    return get(conn, upload.name)


def get(conn: sqlite3.Connection, name: str) -> Firmware:
    row = conn.execute(f"SELECT {_COLUMNS} FROM firmwares WHERE name = ?", (name.strip(),)).fetchone()  # noqa: S608
    if row is None:
        raise NotFoundError(
            f"there is no firmware named {name.strip()!r}; `ql-station firmware list` shows them"
        )
    return _firmware(row)


def list_firmwares(conn: sqlite3.Connection, page: PageRequest) -> Page[Firmware]:
    """By name; `page.search` is a substring of the name, version, device type or attributes."""
    where, params = search_clause(("name", "version", "device_type", "attributes"), page.search)
    return fetch_page(
        conn,
        select=_COLUMNS,
        table="firmwares",
        where=where,
        params=params,
        order_by="name",
        page=page,
        row_to_item=_firmware,
    )


def delete(conn: sqlite3.Connection, name: str) -> Firmware:
    firmware = get(conn, name)
    users = [
        row[0]
        for row in conn.execute("SELECT name FROM batches WHERE firmware = ? ORDER BY name", (firmware.name,))
    ]
    if users:
        shown = ", ".join(repr(u) for u in users[:5]) + (
            f" and {len(users) - 5} more" if len(users) > 5 else ""
        )
        raise ConflictError(
            f"firmware {firmware.name!r} cannot be deleted: batch{'es' if len(users) > 1 else ''} {shown} "
            "update their devices to it. Assign those batches another firmware first"
        )
    conn.execute("DELETE FROM firmwares WHERE name = ?", (firmware.name,))
    return firmware


def assign(conn: sqlite3.Connection, batch_name: str, firmware_name: str | None) -> tuple[Batch, str | None]:
    """Set (or with None/'' clear) the firmware a batch's devices update to; returns (batch, before).

    The firmware's attributes must pass the batch's filters (AND between keys, OR within one)."""
    batch = batches.get(conn, batch_name)
    if firmware_name is None or not firmware_name.strip():
        chosen = None
    else:
        firmware = get(conn, firmware_name)
        if not passes(batch.attribute_filters, firmware.attributes):
            have = ", ".join(f"{k}={v}" for k, v in firmware.attributes) or "none"
            raise ValidationError(
                f"firmware {firmware.name!r} does not pass the attribute filters of batch {batch.name!r}, "
                f"{describe_filters(batch.attribute_filters)} (its attributes: {have}); choose a firmware "
                "whose attributes match"
            )
        chosen = firmware.name
    conn.execute("UPDATE batches SET firmware = ? WHERE name = ?", (chosen, batch.name))
    return batches.get(conn, batch.name), batch.firmware


def offered(conn: sqlite3.Connection, batch: Batch) -> OfferedFirmware | None:
    """The firmware a batch's devices are offered: assigned, in the catalog, and passing its filters."""
    if batch.firmware is None:
        return None
    row = conn.execute(
        "SELECT name, version, device_type, attributes, size, sha256 FROM firmwares WHERE name = ?",
        (batch.firmware,),
    ).fetchone()
    if row is None:
        return None
    found = OfferedFirmware(row[0], row[1], ChipType(row[2]), _pairs(row[3]), row[4], row[5])
    return found if passes(batch.attribute_filters, found.attributes) else None


def signed_image(conn: sqlite3.Connection, name: str, sha256: str) -> bytes:
    """The signed bytes of firmware `name`, provided it is still the build with `sha256`."""
    row = conn.execute("SELECT image FROM firmwares WHERE name = ? AND sha256 = ?", (name, sha256)).fetchone()
    if row is None:
        raise NotFoundError(
            f"firmware {name!r} was deleted or replaced while it was offered; ask for status again"
        )
    return bytes(row[0])


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in json.loads(text))


def _firmware(row: tuple[Any, ...]) -> Firmware:
    return Firmware(
        name=row[0],
        version=row[1],
        device_type=ChipType(row[2]),
        attributes=_pairs(row[3]),
        size=row[4],
        sha256=row[5],
        signing_key=row[6],
        key_digest_hex=row[7],
        created_at=from_ms(row[8]),
        devices_running=row[9],
    )
