"""Turning a task into the exact bytes to flash: bootloader and IEF signed (Secure Boot V2) with the
task's key, each signature verified with the public key, and every image checked once more as the board
will see it (a signed IEF must still fit its partition; a signed bootloader must end before the table).

Runs outside the database lock: signing RSA-3072 takes a noticeable time and needs no database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from app.domain.chips import FACTORY_APP_OFFSET, PARTITION_TABLE_OFFSET
from app.domain.errors import ValidationError
from app.domain.kinds import ImageKind
from app.domain.records import FlashImage, SigningKey, TaskImages
from app.flashing.esp_image import check_image
from app.flashing.partition_table import parse_partition_table
from app.instance.local import image_catalog
from app.instance.local.image_catalog import StoredImage
from app.instance.local.signing import sign_verified
from app.instance.local.tasks import TaskParts


def build_task_images(
    task: str, parts: TaskParts, key: SigningKey, private_key_pem: bytes, images: Sequence[StoredImage]
) -> TaskImages:
    bootloader, table, ief = images
    chip = parts.device_type
    factory = parse_partition_table(table.data).app_at(FACTORY_APP_OFFSET)
    if factory is None:
        raise ValidationError(
            f"partition table {table.name!r} has no app partition at {FACTORY_APP_OFFSET:#x} for the IEF"
        )
    signed_bootloader = _sign(bootloader, private_key_pem, key)
    signed_ief = _sign(ief, private_key_pem, key)
    check_image(
        signed_bootloader, chip, ImageKind.BOOTLOADER, image_catalog.max_size(chip, ImageKind.BOOTLOADER)
    )
    check_image(signed_ief, chip, ImageKind.IEF, factory.size)
    flash = (
        _flash_image(chip.bootloader_offset, bootloader, signed_bootloader),
        _flash_image(PARTITION_TABLE_OFFSET, table, table.data),
        _flash_image(FACTORY_APP_OFFSET, ief, signed_ief),
    )
    return TaskImages(
        task=task,
        device_type=chip,
        bootloader_kind=parts.bootloader,
        key_digest_hex=key.key_digest_hex,
        images=flash,
    )


def _sign(image: StoredImage, private_key_pem: bytes, key: SigningKey) -> bytes:
    what = f"the {image.kind.value} image {image.name!r} signed with key {key.name!r}"
    return sign_verified(image.data, private_key_pem, key.public_key_pem, what)


def _flash_image(offset: int, image: StoredImage, data: bytes) -> FlashImage:
    return FlashImage(
        offset=offset, kind=image.kind, name=image.name, data=data, sha256=hashlib.sha256(data).hexdigest()
    )
