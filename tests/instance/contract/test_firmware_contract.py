"""The Instance contract for the firmware catalog and a batch's firmware, on every implementation.

Firmwares are signed with ECDSA keys here (fast); the signed bytes are judged by the flashing layer's
image checker and the signing module's own verification, not by the instance under test.
"""

from __future__ import annotations

import pytest

from app.domain.chips import ChipType
from app.domain.errors import ConflictError, NotFoundError, ValidationError
from app.domain.kinds import BootloaderKind, IefKind, KeyType
from app.domain.records import PageRequest
from app.instance.api import Instance
from app.sim.images import build_sim_bootloader, build_sim_ief


def _app(chip: ChipType = ChipType.ESP32, version: str = "2.1.0") -> bytes:
    return build_sim_ief(chip, IefKind.NON_DEBUG, version=version)


def _upload(instance: Instance, name: str = "app", version: str = "2.1.0", **kw: object) -> object:
    if not any(k.name == "fw-key" for k in instance.list_signing_keys().items):
        instance.create_signing_key("fw-key", KeyType.ECDSA_P256)
    attributes = kw.pop("attributes", [("hw", "rev2")])
    data = kw.pop("data", _app(version=version))
    chip = kw.pop("device_type", ChipType.ESP32)
    return instance.upload_firmware(name, version, chip, attributes, data, "fw-key")  # type: ignore[arg-type]


def test_upload_signs_with_the_instance_key_and_lists_it(instance: Instance) -> None:
    firmware = _upload(instance)
    key = instance.get_signing_key("fw-key")
    got = instance.get_firmware("app")
    assert got == firmware
    assert (got.name, got.version, got.device_type) == ("app", "2.1.0", ChipType.ESP32)
    assert got.attributes == (("hw", "rev2"),)
    assert got.signing_key == "fw-key" and got.key_digest_hex == key.key_digest_hex
    assert got.size > len(_app()) and len(got.sha256) == 64
    assert got.devices_running == 0
    listed = instance.list_firmwares()
    assert listed.total == 1 and listed.items == (got,)
    actions = [entry.action for entry in instance.list_activity(PageRequest(limit=5)).items]
    assert "firmware.upload" in actions


def test_a_build_for_another_chip_is_refused_as_such(instance: Instance) -> None:
    with pytest.raises(ValidationError, match=r"wrong chip: this firmware is built for ESP32-C3"):
        _upload(instance, data=_app(ChipType.ESP32C3))
    assert instance.list_firmwares().total == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", r"not an ESP app image for ESP32: .*empty"),
        (b"\x00" * 64, r"not an ESP app image for ESP32: not an ESP image"),
        (build_sim_bootloader(ChipType.ESP32, BootloaderKind.DEV), r"looks like a bootloader"),
        (_app()[:-40], r"not an ESP app image for ESP32"),
    ],
    ids=["empty", "not-esp", "bootloader", "truncated"],
)
def test_what_is_not_an_app_image_is_refused(instance: Instance, data: bytes, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _upload(instance, data=data)


@pytest.mark.parametrize(
    ("version", "attributes", "message"),
    [
        ("", [], r"version cannot be empty"),
        ("2.1 beta", [], r"must be 1 to 32 letters"),
        ("1" * 33, [], r"must be 1 to 32 letters"),
        ("2.1.0", [("hw", "a"), ("hw", "b")], r"attribute 'hw' is given twice"),
        ("2.1.0", [("", "a")], r"attribute key name cannot be empty"),
    ],
)
def test_bad_versions_and_attributes_are_refused(
    instance: Instance, version: str, attributes: list[tuple[str, str]], message: str
) -> None:
    instance.create_signing_key("k", KeyType.ECDSA_P256)
    with pytest.raises(ValidationError, match=message):
        instance.upload_firmware("x", version, ChipType.ESP32, attributes, _app(), "k")


def test_unknown_key_and_duplicate_names(instance: Instance) -> None:
    with pytest.raises(NotFoundError, match="no signing key named 'nope'"):
        instance.upload_firmware("app", "1.0.0", ChipType.ESP32, [], _app(), "nope")
    _upload(instance)
    with pytest.raises(ConflictError, match="a firmware named 'app' already exists"):
        _upload(instance, version="2.2.0")
    with pytest.raises(NotFoundError, match="no firmware named 'other'"):
        instance.get_firmware("other")


def test_a_signed_build_is_refused(instance: Instance) -> None:
    instance.create_signing_key("other-key", KeyType.ECDSA_P256)
    from app.instance.local.signing import generate_signing_key, sign_image

    signed = sign_image(_app(version="3.0.0"), generate_signing_key(KeyType.ECDSA_P256).private_key_pem)
    with pytest.raises(ValidationError, match="already signed"):
        instance.upload_firmware("signed", "3.0.0", ChipType.ESP32, [], signed, "other-key")


def test_assigning_to_a_batch_and_deleting(instance: Instance) -> None:
    _upload(instance)
    instance.create_batch("line")
    batch = instance.set_batch_firmware("line", "app")
    assert batch.firmware == "app" and instance.get_batch("line").firmware == "app"
    with pytest.raises(ConflictError, match=r"batch 'line' update their devices to it"):
        instance.delete_firmware("app")
    assert instance.set_batch_firmware("line", None).firmware is None
    instance.delete_firmware("app")
    with pytest.raises(NotFoundError):
        instance.get_firmware("app")
    with pytest.raises(NotFoundError, match="no firmware named 'app'"):
        instance.set_batch_firmware("line", "app")
    with pytest.raises(NotFoundError, match="no batch named 'nope'"):
        instance.set_batch_firmware("nope", None)
    actions = [entry.action for entry in instance.list_activity(PageRequest(limit=10)).items]
    assert {"batch.set-firmware", "firmware.delete"} <= set(actions)


def test_batch_filters_are_and_between_keys_and_or_within_one(instance: Instance) -> None:
    _upload(instance, "eu-rev2", attributes=[("region", "eu"), ("hw", "rev2")])
    _upload(instance, "us-rev1", version="2.0.0", attributes=[("region", "us"), ("hw", "rev1")])
    _upload(instance, "apac-rev2", version="2.0.1", attributes=[("region", "apac"), ("hw", "rev2")])
    filters = [("region", "eu"), ("region", "us"), ("hw", "rev2")]
    instance.create_batch("eu-or-us-rev2", attribute_filters=filters)
    assert instance.set_batch_firmware("eu-or-us-rev2", "eu-rev2").firmware == "eu-rev2"
    for refused in ("us-rev1", "apac-rev2"):
        with pytest.raises(ValidationError, match=r"\(region=eu OR region=us\) AND hw=rev2"):
            instance.set_batch_firmware("eu-or-us-rev2", refused)
    assert instance.get_batch("eu-or-us-rev2").firmware == "eu-rev2"
    instance.create_batch("any")
    assert instance.set_batch_firmware("any", "apac-rev2").firmware == "apac-rev2"


def test_list_firmwares_pages_and_searches(instance: Instance) -> None:
    for index in range(5):
        _upload(instance, f"app-{index}", version=f"1.{index}.0", attributes=[("slot", str(index))])
    first = instance.list_firmwares(PageRequest(limit=2))
    assert [f.name for f in first.items] == ["app-0", "app-1"] and first.total == 5 and first.has_more
    rest = instance.list_firmwares(PageRequest(offset=2, limit=10))
    assert [f.name for f in rest.items] == ["app-2", "app-3", "app-4"]
    assert [f.name for f in instance.list_firmwares(PageRequest(search="1.3")).items] == ["app-3"]
