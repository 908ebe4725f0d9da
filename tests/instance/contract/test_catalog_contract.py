"""The Instance contract for signing keys, the image catalog and provisioning tasks.

RSA-3072 generation takes seconds, so task tests share one module-wide instance holding an RSA key
(`signing_instance`) and use unique names; everything else uses ECDSA keys on a fresh instance.
Signed images are judged by the flashing layer's own image checker, not by the instance.
"""

from __future__ import annotations

import hashlib
import itertools

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.domain.chips import FACTORY_APP_OFFSET, PARTITION_TABLE_OFFSET, ChipType
from app.domain.errors import ConflictError, NotFoundError, ValidationError
from app.domain.kinds import BootloaderKind, IefKind, ImageKind, KeyType
from app.domain.records import PageRequest
from app.domain.run_options import DEFAULT_ENROL_WAIT_S, TaskRunOptions
from app.flashing.esp_image import check_image
from app.instance.api import Instance
from app.sim.images import build_sim_bootloader, build_sim_ief, build_sim_partition_table
from app.sim.partition_table import (
    SUBTYPE_FACTORY,
    SUBTYPE_NVS,
    TYPE_APP,
    TYPE_DATA,
    Partition,
    build_partition_table,
)

_unique = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_unique)}"


# --- signing keys --------------------------------------------------------------------------------


def test_create_ecdsa_key_returns_public_part_only(instance: Instance) -> None:
    key = instance.create_signing_key("k1", KeyType.ECDSA_P256)
    assert key.name == "k1"
    assert key.key_type is KeyType.ECDSA_P256
    assert key.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in key.public_key_pem
    public = serialization.load_pem_public_key(key.public_key_pem.encode())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert len(key.key_digest_hex) == 64
    int(key.key_digest_hex, 16)
    assert instance.get_signing_key("k1") == key


def test_rsa_key_in_the_shared_instance(signing_instance: Instance, rsa_key_name: str) -> None:
    key = signing_instance.get_signing_key(rsa_key_name)
    assert key.key_type is KeyType.RSA_3072
    assert "PRIVATE" not in key.public_key_pem
    assert len(key.key_digest_hex) == 64


def test_key_names_are_unique_and_checked(instance: Instance) -> None:
    instance.create_signing_key("k", KeyType.ECDSA_P256)
    with pytest.raises(ConflictError, match="a signing key named 'k' already exists"):
        instance.create_signing_key("k", KeyType.ECDSA_P256)
    with pytest.raises(ValidationError, match="signing key name cannot be empty"):
        instance.create_signing_key(" ", KeyType.ECDSA_P256)
    with pytest.raises(ValidationError, match="key type must be one of ecdsa-p256, rsa-3072"):
        instance.create_signing_key("x", "rsa-2048")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="there is no signing key named 'missing'"):
        instance.get_signing_key("missing")


def test_list_signing_keys_pages(instance: Instance) -> None:
    for name in ["key-c", "key-a", "key-b"]:
        instance.create_signing_key(name, KeyType.ECDSA_P256)
    page = instance.list_signing_keys(PageRequest(offset=1, limit=1))
    assert [k.name for k in page.items] == ["key-b"]
    assert (page.total, page.has_more) == (3, True)
    assert [k.name for k in instance.list_signing_keys(PageRequest(search="KEY-A")).items] == ["key-a"]


# --- image catalog -------------------------------------------------------------------------------


def test_catalog_has_simulation_images_for_every_chip_and_variant(instance: Instance) -> None:
    for chip in ChipType:
        page = instance.list_images(PageRequest(limit=100), device_type=chip)
        assert all(image.device_type is chip and image.simulation for image in page.items)
        kinds = {(image.kind, image.variant) for image in page.items}
        expected = {(ImageKind.BOOTLOADER, k.value) for k in BootloaderKind}
        expected |= {(ImageKind.IEF, k.value) for k in IefKind}
        expected |= {(ImageKind.PARTITION_TABLE, "")}
        assert kinds == expected
        assert all(image.name.startswith("sim-") for image in page.items)


def test_import_image_checks_and_stores(instance: Instance) -> None:
    data = build_sim_bootloader(ChipType.ESP32S3, BootloaderKind.RELEASE)
    image = instance.import_image("my-boot", ChipType.ESP32S3, ImageKind.BOOTLOADER, "Release", data)
    assert (image.name, image.device_type, image.kind, image.variant) == (
        "my-boot",
        ChipType.ESP32S3,
        ImageKind.BOOTLOADER,
        "release",
    )
    assert image.size == len(data)
    assert image.sha256 == hashlib.sha256(data).hexdigest()
    assert image.simulation is False
    listed = instance.list_images(PageRequest(search="my-boot"))
    assert listed.items == (image,)


def test_image_names_are_unique(instance: Instance) -> None:
    data = build_sim_partition_table(ChipType.ESP32)
    instance.import_image("table", ChipType.ESP32, ImageKind.PARTITION_TABLE, "", data)
    with pytest.raises(ConflictError, match="an image named 'table' already exists"):
        instance.import_image("table", ChipType.ESP32, ImageKind.PARTITION_TABLE, "", data)


@pytest.mark.parametrize(
    ("chip", "kind", "variant", "data", "message"),
    [
        (ChipType.ESP32, ImageKind.BOOTLOADER, "dev", b"\x00" * 64, "not an ESP image: first byte 0x00"),
        (
            ChipType.ESP32,
            ImageKind.IEF,
            "debug",
            build_sim_ief(ChipType.ESP32C3, IefKind.DEBUG),
            "ESP32-C3",
        ),
        (
            ChipType.ESP32,
            ImageKind.BOOTLOADER,
            "beta",
            b"",
            "variant must be one of dev, release; got 'beta'",
        ),
        (
            ChipType.ESP32,
            ImageKind.IEF,
            "verbose",
            b"",
            "variant must be one of debug, non-debug; got 'verbose'",
        ),
        (ChipType.ESP32, ImageKind.PARTITION_TABLE, "dev", b"", "a partition table has no variant"),
        (ChipType.ESP32, ImageKind.BOOTLOADER, "dev", b"", "the bootloader image is empty"),
    ],
)
def test_bad_images_are_refused(
    instance: Instance, chip: ChipType, kind: ImageKind, variant: str, data: bytes, message: str
) -> None:
    before = instance.list_images().total
    with pytest.raises(ValidationError, match=message):
        instance.import_image("bad", chip, kind, variant, data)
    assert instance.list_images().total == before


def test_oversized_bootloader_is_refused(instance: Instance) -> None:
    data = build_sim_bootloader(ChipType.ESP32, BootloaderKind.DEV) + b"\xff" * 0x8000
    with pytest.raises(ValidationError, match="would overwrite what follows"):
        instance.import_image("big", ChipType.ESP32, ImageKind.BOOTLOADER, "dev", data)


def test_list_images_pages_and_filters(instance: Instance) -> None:
    everything = instance.list_images(PageRequest(limit=1000))
    assert everything.total == len(everything.items) == 5 * len(ChipType)
    names = [i.name for i in everything.items]
    assert names == sorted(names)
    page = instance.list_images(PageRequest(offset=3, limit=4), device_type=ChipType.ESP32C3)
    assert page.total == 5
    assert len(page.items) == 2 and not page.has_more
    found = instance.list_images(PageRequest(search="non-debug"), device_type=ChipType.ESP32S2)
    assert [i.name for i in found.items] == ["sim-esp32s2-ief-non-debug"]


# --- tasks ---------------------------------------------------------------------------------------


def test_task_uses_the_newest_matching_images(signing_instance: Instance, rsa_key_name: str) -> None:
    name = unique("task")
    task = signing_instance.create_task(
        name, ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, rsa_key_name
    )
    assert task.bootloader_image == "sim-esp32c3-bootloader-dev"
    assert task.partition_table_image == "sim-esp32c3-partition-table"
    assert task.ief_image == "sim-esp32c3-ief-debug"
    assert signing_instance.get_task(name) == task

    newer = unique("boot")
    data = build_sim_bootloader(ChipType.ESP32C3, BootloaderKind.DEV)
    signing_instance.import_image(newer, ChipType.ESP32C3, ImageKind.BOOTLOADER, "dev", data)
    later = signing_instance.create_task(
        unique("task"), ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, rsa_key_name
    )
    assert later.bootloader_image == newer
    assert signing_instance.get_task(name).bootloader_image == "sim-esp32c3-bootloader-dev"


def test_task_with_named_images(signing_instance: Instance, rsa_key_name: str) -> None:
    task = signing_instance.create_task(
        unique("task"),
        ChipType.ESP32,
        BootloaderKind.RELEASE,
        IefKind.NON_DEBUG,
        rsa_key_name,
        bootloader_image="sim-esp32-bootloader-release",
        partition_table_image="sim-esp32-partition-table",
        ief_image="sim-esp32-ief-non-debug",
    )
    assert (task.device_type, task.bootloader, task.ief) == (
        ChipType.ESP32,
        BootloaderKind.RELEASE,
        IefKind.NON_DEBUG,
    )


@pytest.mark.parametrize(
    ("images", "error", "message"),
    [
        (
            {"bootloader_image": "sim-esp32s2-bootloader-dev"},
            ValidationError,
            "image 'sim-esp32s2-bootloader-dev' is a esp32s2 bootloader \\(dev\\) image; this task needs a "
            "esp32c3 bootloader \\(dev\\) image",
        ),
        (
            {"ief_image": "sim-esp32c3-ief-non-debug"},
            ValidationError,
            "needs a esp32c3 ief \\(debug\\) image",
        ),
        (
            {"partition_table_image": "sim-esp32c3-ief-debug"},
            ValidationError,
            "needs a esp32c3 partition-table",
        ),
        ({"bootloader_image": "no-such-image"}, NotFoundError, "there is no image named 'no-such-image'"),
    ],
)
def test_task_images_must_match(
    signing_instance: Instance,
    rsa_key_name: str,
    images: dict[str, str],
    error: type[Exception],
    message: str,
) -> None:
    name = unique("task")
    with pytest.raises(error, match=message):
        signing_instance.create_task(
            name, ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, rsa_key_name, **images
        )
    with pytest.raises(NotFoundError, match=f"there is no task named '{name}'"):
        signing_instance.get_task(name)


def _table_with_factory_size(size: int) -> bytes:
    return build_partition_table(
        (
            Partition("nvs", TYPE_DATA, SUBTYPE_NVS, 0x9000, 0x6000),
            Partition("factory", TYPE_APP, SUBTYPE_FACTORY, FACTORY_APP_OFFSET, size),
        )
    )


def test_the_ief_must_fit_its_partition(instance: Instance) -> None:
    # A fresh instance (and so one more RSA key): the tables imported here become the newest ones.
    instance.create_signing_key("rsa", KeyType.RSA_3072)
    ief = build_sim_ief(ChipType.ESP32S3, IefKind.DEBUG)
    table = _table_with_factory_size(0x1000)
    instance.import_image("small-table", ChipType.ESP32S3, ImageKind.PARTITION_TABLE, "", table)
    with pytest.raises(ValidationError, match=r"gives the IEF partition only 4096 bytes \(0x1000\)"):
        instance.create_task("t1", ChipType.ESP32S3, BootloaderKind.DEV, IefKind.DEBUG, "rsa")
    # The unsigned IEF fits exactly; signed (plus its signature sector) it does not.
    table = _table_with_factory_size(len(ief))
    instance.import_image("exact-table", ChipType.ESP32S3, ImageKind.PARTITION_TABLE, "", table)
    instance.create_task("t2", ChipType.ESP32S3, BootloaderKind.DEV, IefKind.DEBUG, "rsa")
    with pytest.raises(ValidationError, match="would overwrite what follows"):
        instance.task_images("t2")
    assert [t.name for t in instance.list_tasks().items] == ["t2"]


def test_task_key_must_suit_the_chip(instance: Instance) -> None:
    instance.create_signing_key("ec", KeyType.ECDSA_P256)
    with pytest.raises(ValidationError, match="ESP32-C3 Secure Boot V2 verifies rsa-3072 signatures only"):
        instance.create_task("t", ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, "ec")
    with pytest.raises(NotFoundError, match="there is no signing key named 'nokey'"):
        instance.create_task("t", ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, "nokey")
    assert instance.list_tasks().total == 0


def test_task_names_are_unique(signing_instance: Instance, rsa_key_name: str) -> None:
    name = unique("task")
    signing_instance.create_task(name, ChipType.ESP32S3, BootloaderKind.DEV, IefKind.DEBUG, rsa_key_name)
    with pytest.raises(ConflictError, match=f"a task named '{name}' already exists"):
        signing_instance.create_task(name, ChipType.ESP32S3, BootloaderKind.DEV, IefKind.DEBUG, rsa_key_name)
    with pytest.raises(ValidationError, match="task name cannot be empty"):
        signing_instance.create_task("", ChipType.ESP32S3, BootloaderKind.DEV, IefKind.DEBUG, rsa_key_name)


def test_list_tasks_pages_and_searches(signing_instance: Instance, rsa_key_name: str) -> None:
    tag = unique("listing")
    for suffix in ["b", "a", "c"]:
        signing_instance.create_task(
            f"{tag}-{suffix}", ChipType.ESP32S2, BootloaderKind.DEV, IefKind.DEBUG, rsa_key_name
        )
    page = signing_instance.list_tasks(PageRequest(search=tag, limit=2))
    assert [t.name for t in page.items] == [f"{tag}-a", f"{tag}-b"]
    assert (page.total, page.has_more) == (3, True)


@pytest.mark.parametrize("chip", list(ChipType))
def test_task_images_are_signed_and_verify(
    signing_instance: Instance, rsa_key_name: str, chip: ChipType
) -> None:
    name = unique("signed")
    signing_instance.create_task(name, chip, BootloaderKind.DEV, IefKind.DEBUG, rsa_key_name)
    key = signing_instance.get_signing_key(rsa_key_name)
    result = signing_instance.task_images(name)
    assert (result.task, result.device_type, result.bootloader_kind) == (name, chip, BootloaderKind.DEV)
    assert result.key_digest_hex == key.key_digest_hex
    offsets = [(i.offset, i.kind) for i in result.images]
    assert offsets == [
        (chip.bootloader_offset, ImageKind.BOOTLOADER),
        (PARTITION_TABLE_OFFSET, ImageKind.PARTITION_TABLE),
        (FACTORY_APP_OFFSET, ImageKind.IEF),
    ]
    for image in result.images:
        assert image.sha256 == hashlib.sha256(image.data).hexdigest()
        summary = check_image(image.data, chip, image.kind)
        if image.kind is ImageKind.PARTITION_TABLE:
            assert image.data == build_sim_partition_table(chip)
        else:
            assert summary.signed
            assert summary.key_digests == (key.key_digest_hex,)


def test_unknown_task(instance: Instance) -> None:
    with pytest.raises(NotFoundError, match="there is no task named 'ghost'"):
        instance.get_task("ghost")
    with pytest.raises(NotFoundError, match="there is no task named 'ghost'"):
        instance.task_images("ghost")


def test_update_task_changes_what_it_flashes_and_keeps_its_name(
    signing_instance: Instance, rsa_key_name: str
) -> None:
    name = unique("task")
    created = signing_instance.create_task(
        name, ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, rsa_key_name
    )
    updated = signing_instance.update_task(
        f" {name} ", ChipType.ESP32S3, BootloaderKind.RELEASE, IefKind.NON_DEBUG, rsa_key_name
    )
    assert (updated.name, updated.created_at) == (name, created.created_at)
    assert (updated.device_type, updated.bootloader, updated.ief) == (
        ChipType.ESP32S3,
        BootloaderKind.RELEASE,
        IefKind.NON_DEBUG,
    )
    assert updated.bootloader_image == "sim-esp32s3-bootloader-release"
    assert updated.ief_image == "sim-esp32s3-ief-non-debug"
    assert signing_instance.get_task(name) == updated
    with pytest.raises(NotFoundError, match="there is no task named 'nope'"):
        signing_instance.update_task(
            "nope", ChipType.ESP32S3, BootloaderKind.DEV, IefKind.DEBUG, rsa_key_name
        )
    with pytest.raises(NotFoundError, match="there is no signing key named 'nokey'"):
        signing_instance.update_task(name, ChipType.ESP32S3, BootloaderKind.DEV, IefKind.DEBUG, "nokey")
    assert signing_instance.get_task(name) == updated, "a refused update changes nothing"


def test_task_run_options_are_stored_with_the_task(signing_instance: Instance, rsa_key_name: str) -> None:
    plain = signing_instance.create_task(
        unique("task"), ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, rsa_key_name
    )
    assert plain.run_options == TaskRunOptions(DEFAULT_ENROL_WAIT_S, None), "waits for enrolment by default"
    name = unique("task")
    chosen = TaskRunOptions(enrol_wait_s=12.5, flash_baud=460800)
    created = signing_instance.create_task(
        name, ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, rsa_key_name, run_options=chosen
    )
    assert created.run_options == chosen
    assert signing_instance.get_task(name).run_options == chosen
    assert [t.run_options for t in signing_instance.list_tasks(PageRequest(search=name)).items] == [chosen]
    kept = signing_instance.update_task(
        name, ChipType.ESP32S3, BootloaderKind.DEV, IefKind.DEBUG, rsa_key_name
    )
    assert kept.run_options == chosen, "an update that names no run options keeps them"
    off = TaskRunOptions(enrol_wait_s=0, flash_baud=None)
    changed = signing_instance.update_task(
        name, ChipType.ESP32S3, BootloaderKind.DEV, IefKind.DEBUG, rsa_key_name, run_options=off
    )
    assert changed.run_options == off
    assert signing_instance.get_task(name).run_options == off


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"enrol_wait_s": -1}, "the wait for enrolment must be 0 \\(do not wait\\) to 3600 seconds"),
        ({"enrol_wait_s": 3601}, "the wait for enrolment must be 0"),
        ({"flash_baud": 9600}, "the flashing rate must be one of 115200, .*, or automatic; got 9600"),
    ],
)
def test_bad_task_run_options_are_refused(options: dict[str, float], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TaskRunOptions(**options)  # type: ignore[arg-type]


def test_delete_task(signing_instance: Instance, rsa_key_name: str) -> None:
    name = unique("task")
    signing_instance.create_task(name, ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, rsa_key_name)
    signing_instance.delete_task(name)
    with pytest.raises(NotFoundError, match=f"there is no task named '{name}'"):
        signing_instance.get_task(name)
    with pytest.raises(NotFoundError, match=f"there is no task named '{name}'"):
        signing_instance.delete_task(name)
    signing_instance.create_task(name, ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, rsa_key_name)
