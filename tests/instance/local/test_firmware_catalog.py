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
