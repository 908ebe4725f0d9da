"""The local instance's firmware catalog as the enrolment service reads it: the signed bytes devices
download, and what a batch is offered."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.chips import ChipType
from app.domain.errors import NotFoundError
from app.domain.kinds import IefKind, ImageKind, KeyType
from app.flashing.esp_image import check_image
from app.instance.local.instance import LocalInstance
from app.instance.local.signing import verify_image
from app.sim.images import app_version, build_sim_ief
from tests.enrolment.conftest import new_keys


def test_what_devices_download_is_the_app_signed_by_the_named_key(tmp_path: Path) -> None:
    with LocalInstance.open(tmp_path / "i.sqlite3") as instance:
        key = instance.create_signing_key("fw", KeyType.ECDSA_P256)
        image = build_sim_ief(ChipType.ESP32S3, IefKind.NON_DEBUG, version="2.1.0")
        firmware = instance.upload_firmware("app", "2.1.0", ChipType.ESP32S3, [], image, "fw")
        desk = instance.device_enrolment()
        signed = desk.firmware_image("app", firmware.sha256)
        assert len(signed) == firmware.size and signed.startswith(image)
        verify_image(signed, key.public_key_pem)
        summary = check_image(signed, ChipType.ESP32S3, ImageKind.IEF)
        assert summary.signed and summary.key_digests == (key.key_digest_hex,)
        assert app_version(signed) == "2.1.0"
        with pytest.raises(NotFoundError, match="deleted or replaced"):
            desk.firmware_image("app", "0" * 64)


def _enrolled_in(instance: LocalInstance, batch: str) -> str:
    keys = new_keys()
    instance.add_devices(batch, [keys.device_id])
    instance.device_enrolment().enrol(keys.device_id, keys.device.public_key())
    return keys.device_id


def test_devices_running_counts_each_firmware_not_each_version(tmp_path: Path) -> None:
    """Builds of 2.1.0 for two chips: each counts the devices that run it, not every device that says
    "2.1.0"; a device keeps its firmware when its batch changes, and the IEF's version counts nowhere."""
    with LocalInstance.open(tmp_path / "i.sqlite3") as instance:
        instance.create_signing_key("fw", KeyType.ECDSA_P256)
        for chip, name in ((ChipType.ESP32C3, "app-c3"), (ChipType.ESP32S3, "app-s3")):
            image = build_sim_ief(chip, IefKind.NON_DEBUG, version="2.1.0")
            instance.upload_firmware(name, "2.1.0", chip, [], image, "fw")
            instance.create_batch(f"line-{name}", firmware=name)
        instance.create_batch("lab")
        c3 = [_enrolled_in(instance, "line-app-c3") for _ in range(3)]
        s3 = _enrolled_in(instance, "line-app-s3")
        ief = _enrolled_in(instance, "line-app-s3")
        desk = instance.device_enrolment()
        for device_id in (*c3, s3):
            desk.report_status(device_id, "2.1.0")
        desk.report_status(ief, "sim-1")  # the IEF, before it takes its batch's update
        running = {f.name: f.devices_running for f in instance.list_firmwares().items}
        assert running == {"app-c3": 3, "app-s3": 1}

        instance.move_devices("lab", [c3[0]])  # a batch with no firmware: the device still runs app-c3
        desk.report_status(c3[0], "2.1.0")
        desk.report_status(c3[1], "sim-1")  # set back to its IEF (its flash erased and provisioned again)
        running = {f.name: f.devices_running for f in instance.list_firmwares().items}
        assert running == {"app-c3": 2, "app-s3": 1}
        assert instance.find_device(c3[1]) is not None and instance.find_device(c3[1]).firmware == "sim-1"  # type: ignore[union-attr]
