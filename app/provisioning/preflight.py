"""Checks of a job's images that need no board: the right offsets, each image valid for the chip, sized
to fit, and (for a release bootloader) signed by the task's key.

The station runs them once before it starts any worker, so a bad task is refused before a single board
is touched; each worker runs them again on the bytes it actually received.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.domain.chips import FACTORY_APP_OFFSET, PARTITION_TABLE_OFFSET, ChipType
from app.domain.errors import ValidationError
from app.domain.kinds import BootloaderKind, ImageKind
from app.domain.records import FlashImage
from app.flashing.esp_image import ImageSummary, check_image
from app.flashing.flash_checks import check_release_image_signed
from app.flashing.partition_table import MAX_TABLE_SIZE, parse_partition_table


def expected_offset(device_type: ChipType, kind: ImageKind) -> int:
    if kind is ImageKind.BOOTLOADER:
        return device_type.bootloader_offset
    if kind is ImageKind.PARTITION_TABLE:
        return PARTITION_TABLE_OFFSET
    return FACTORY_APP_OFFSET


def check_job_images(
    images: Sequence[FlashImage], device_type: ChipType, bootloader: BootloaderKind, key_digest_hex: str
) -> tuple[ImageSummary, ...]:
    """Raise ValidationError or FlashRefusedError (naming the image) unless every image is fit to write."""
    kinds = [image.kind for image in images]
    if sorted(kinds, key=lambda k: k.value) != sorted(ImageKind, key=lambda k: k.value):
        found = ", ".join(k.value for k in kinds) or "none"
        raise ValidationError(
            f"a provisioning job needs exactly one bootloader, partition table and IEF image; it has: {found}"
        )
    by_kind = {image.kind: image for image in images}
    table = parse_partition_table(by_kind[ImageKind.PARTITION_TABLE].data)
    factory = table.app_at(FACTORY_APP_OFFSET)
    room = {
        ImageKind.BOOTLOADER: PARTITION_TABLE_OFFSET - device_type.bootloader_offset,
        ImageKind.PARTITION_TABLE: MAX_TABLE_SIZE,
        ImageKind.IEF: factory.size if factory is not None else None,
    }
    summaries = []
    for image in images:
        offset = expected_offset(device_type, image.kind)
        if image.offset != offset:
            raise ValidationError(
                f"the {image.kind.value} image {image.name!r} is to be written at {image.offset:#x}, "
                f"but a {device_type.display_name} {image.kind.value} belongs at {offset:#x}"
            )
        try:
            summary = check_image(image.data, device_type, image.kind, room[image.kind])
        except ValidationError as exc:
            what = f"the {image.kind.value} image {image.name!r}"
            raise ValidationError(f"{what} is not fit to flash: {exc}") from None
        summaries.append(summary)
        if bootloader is BootloaderKind.RELEASE and image.kind is not ImageKind.PARTITION_TABLE:
            check_release_image_signed(summary, key_digest_hex)
    return tuple(summaries)
