"""Check a task's images as a set before flashing: each at its place, each fitting its room.

`check_image` judges one image; a task also has to be consistent: the bootloader at the chip's
bootloader offset and no larger than the gap before the partition table, the table at 0x8000 with
room for the IEF at the factory offset, the IEF no larger than that partition, and, for a release
task, bootloader and IEF signed by the task's key (Secure Boot V2 checks both at every boot).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.chips import FACTORY_APP_OFFSET, PARTITION_TABLE_OFFSET
from app.domain.errors import ValidationError
from app.domain.kinds import BootloaderKind, ImageKind
from app.domain.records import FlashImage, TaskImages
from app.flashing.esp_image import ImageSummary, check_image
from app.flashing.flash_checks import check_release_image_signed
from app.flashing.partition_table import MAX_TABLE_SIZE, check_fits_flash

_FLASH_SIZE_OFFSET = 3
"""Header byte 3: flash size in its high nibble (1 MiB << n), flash frequency in the low one."""


def declared_flash_size(bootloader: bytes) -> int:
    """The flash size the bootloader's header declares; the station flashes with flash_size "keep", so it
    is the size the bootloader will assume for the partition table."""
    return (1 << 20) << (bootloader[_FLASH_SIZE_OFFSET] >> 4)


@dataclass(frozen=True)
class CheckedImages:
    """The task's images in flashing order with the summary of each (same order)."""

    images: tuple[FlashImage, ...]
    summaries: tuple[ImageSummary, ...]

    def summary_of(self, kind: ImageKind) -> ImageSummary:
        for summary in self.summaries:
            if summary.kind is kind:
                return summary
        raise KeyError(kind)


def check_task_images(task: TaskImages) -> CheckedImages:
    """Raise ValidationError (or FlashRefusedError for signatures) naming the first problem found."""
    chip = task.device_type
    by_kind: dict[ImageKind, FlashImage] = {}
    for image in task.images:
        if image.kind in by_kind:
            raise ValidationError(f"task {task.task!r} has two {image.kind.value} images")
        by_kind[image.kind] = image
    missing = [kind.value for kind in ImageKind if kind not in by_kind]
    if missing:
        raise ValidationError(f"task {task.task!r} has no {' and no '.join(missing)} image")
    expected_offsets = {
        ImageKind.BOOTLOADER: chip.bootloader_offset,
        ImageKind.PARTITION_TABLE: PARTITION_TABLE_OFFSET,
        ImageKind.IEF: FACTORY_APP_OFFSET,
    }
    for kind, offset in expected_offsets.items():
        if by_kind[kind].offset != offset:
            raise ValidationError(
                f"the {kind.value} image of task {task.task!r} is set to {by_kind[kind].offset:#x}; "
                f"on {chip.display_name} it belongs at {offset:#x}"
            )
    table = check_image(
        by_kind[ImageKind.PARTITION_TABLE].data, chip, ImageKind.PARTITION_TABLE, MAX_TABLE_SIZE
    )
    factory = next(p for p in table.partitions if p.is_app and p.offset == FACTORY_APP_OFFSET)
    bootloader = check_image(
        by_kind[ImageKind.BOOTLOADER].data,
        chip,
        ImageKind.BOOTLOADER,
        PARTITION_TABLE_OFFSET - chip.bootloader_offset,
    )
    flash_size = declared_flash_size(by_kind[ImageKind.BOOTLOADER].data)
    for partition in table.partitions:
        check_fits_flash(partition, flash_size, "the flash the bootloader's header declares")
    ief = check_image(by_kind[ImageKind.IEF].data, chip, ImageKind.IEF, factory.size)
    if task.bootloader_kind is BootloaderKind.RELEASE:
        check_release_image_signed(bootloader, task.key_digest_hex)
        check_release_image_signed(ief, task.key_digest_hex)
    ordered = tuple(sorted(task.images, key=lambda image: image.offset))
    summaries = {ImageKind.BOOTLOADER: bootloader, ImageKind.PARTITION_TABLE: table, ImageKind.IEF: ief}
    return CheckedImages(ordered, tuple(summaries[image.kind] for image in ordered))
