"""check_task_images: a task's three images, each at its offset, fitting, and signed for release."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from app.domain.chips import ChipType
from app.domain.errors import ValidationError
from app.domain.kinds import BootloaderKind, ImageKind
from app.domain.records import FlashImage, TaskImages
from app.flashing.flash_errors import FlashRefusedError
from app.flashing.task_image_checks import check_task_images

from .builders import (
    STANDARD_TABLE,
    build_app,
    build_bootloader,
    build_partition_table,
    key_digest_hex,
    sign_with,
)


def _task(
    bootloader: bytes | None = None,
    ief: bytes | None = None,
    table: bytes | None = None,
    kind: BootloaderKind = BootloaderKind.DEV,
    digest: str = "00" * 32,
) -> TaskImages:
    images = (
        FlashImage(0x10000, ImageKind.IEF, "ief.bin", ief if ief is not None else build_app()),
        FlashImage(
            0x0,
            ImageKind.BOOTLOADER,
            "bootloader.bin",
            bootloader if bootloader is not None else build_bootloader(),
        ),
        FlashImage(
            0x8000,
            ImageKind.PARTITION_TABLE,
            "partitions.bin",
            table or build_partition_table(STANDARD_TABLE),
        ),
    )
    return TaskImages("line-7", ChipType.ESP32C3, kind, digest, images)


def test_dev_task_images_checked_and_put_in_offset_order() -> None:
    checked = check_task_images(_task())
    assert [i.offset for i in checked.images] == [0x0, 0x8000, 0x10000]
    assert [s.kind for s in checked.summaries] == [
        ImageKind.BOOTLOADER,
        ImageKind.PARTITION_TABLE,
        ImageKind.IEF,
    ]
    assert checked.summary_of(ImageKind.IEF).chip is ChipType.ESP32C3


def test_ief_larger_than_factory_partition_refused() -> None:
    small_table = build_partition_table([("nvs", 1, 2, 0x9000, 0x6000), ("factory", 0, 0, 0x10000, 0x2000)])
    with pytest.raises(ValidationError, match=r"the ief image is \d+ bytes .* holds only 8192 bytes"):
        check_task_images(_task(ief=build_app(bytes(16 * 1024)), table=small_table))


def test_bootloader_overlapping_partition_table_refused() -> None:
    with pytest.raises(ValidationError, match=r"the bootloader image is .* holds only 32768 bytes"):
        check_task_images(_task(bootloader=build_bootloader(bytes(40 * 1024))))


def test_image_at_wrong_offset_refused() -> None:
    task = _task()
    moved = tuple(replace(i, offset=0x20000) if i.kind is ImageKind.IEF else i for i in task.images)
    with pytest.raises(ValidationError) as err:
        check_task_images(replace(task, images=moved))
    assert (
        str(err.value)
        == "the ief image of task 'line-7' is set to 0x20000; on ESP32-C3 it belongs at 0x10000"
    )


def test_missing_image_refused() -> None:
    task = _task()
    with pytest.raises(ValidationError, match="task 'line-7' has no partition-table image"):
        check_task_images(replace(task, images=task.images[:2]))


def test_release_task_needs_both_images_signed_by_task_key(signing_key: Path, tmp_path: Path) -> None:
    digest = key_digest_hex(signing_key)
    signed_boot = sign_with(signing_key, build_bootloader(), tmp_path)
    signed_ief = sign_with(signing_key, build_app(bytes(range(256)) * 8), tmp_path)
    checked = check_task_images(_task(signed_boot, signed_ief, kind=BootloaderKind.RELEASE, digest=digest))
    assert checked.summary_of(ImageKind.BOOTLOADER).signed
    with pytest.raises(FlashRefusedError, match="the release task's ief image is not signed"):
        check_task_images(_task(signed_boot, build_app(), kind=BootloaderKind.RELEASE, digest=digest))
    with pytest.raises(FlashRefusedError, match="the bootloader image is signed by key"):
        check_task_images(_task(signed_boot, signed_ief, kind=BootloaderKind.RELEASE, digest="ef" * 32))
