"""The job a port worker reads on stdin: round trip, masking of the password, and bad input."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import zlib
from pathlib import Path

import pytest

from app.domain.chips import ChipType
from app.domain.errors import ValidationError
from app.domain.kinds import BootloaderKind, ImageKind
from app.domain.records import FlashImage, InstanceParams
from app.provisioning.job import MASK, JobMode, PortJob, Redactor, Timeouts, validate_wifi
from app.provisioning.staged_images import StagedImages


@pytest.fixture
def staged(tmp_path: Path) -> StagedImages:
    return StagedImages(tmp_path)


def _password() -> str:
    return "pw-" + secrets.token_hex(8)


def make_job(password: str, **changes: object) -> PortJob:
    data = bytes(range(256)) * 8
    values: dict[str, object] = {
        "mode": JobMode.PROVISION,
        "port": "rfc2217://127.0.0.1:5000",
        "batch": "line-1",
        "task": "t1",
        "device_type": ChipType.ESP32C3,
        "bootloader": BootloaderKind.DEV,
        "key_digest_hex": "cd" * 32,
        "images": (FlashImage(0x10000, ImageKind.IEF, "ief", data, hashlib.sha256(data).hexdigest()),),
        "instance": InstanceParams("ql.example", 6000, "-----BEGIN CERTIFICATE-----\n"),
        "wifi_ssid": "factory",
        "wifi_password": password,
    }
    values.update(changes)
    return PortJob(**values)  # type: ignore[arg-type]


def test_round_trip(staged: StagedImages) -> None:
    job = make_job(_password(), timeouts=Timeouts(ief=3.5), release_confirmed=True)
    again = PortJob.from_json(job.to_json(staged))
    assert again == job
    assert again.images[0].data == job.images[0].data
    assert again.timeouts.ief == 3.5


def test_repr_and_str_mask_the_password() -> None:
    password = _password()
    job = make_job(password)
    for text in (repr(job), str(job), f"{job}"):
        assert password not in text
        assert MASK in text
        assert "factory" in text


def test_the_line_names_the_image_file_instead_of_carrying_it(staged: StagedImages) -> None:
    data = secrets.token_bytes(64 * 1024)
    image = FlashImage(0x10000, ImageKind.IEF, "ief", data, hashlib.sha256(data).hexdigest())
    job = make_job(_password(), images=(image,))
    line = job.to_json(staged)
    assert len(line) < 2000
    (image,) = json.loads(line)["images"]
    assert Path(image["file"]).read_bytes() == job.images[0].data
    assert Path(image["file"]).parent == staged.folder
    assert job.to_json(staged) == line  # the second job of the task reuses the file


def test_damaged_image_is_refused(staged: StagedImages) -> None:
    data = json.loads(make_job(_password()).to_json(staged))
    data["images"][0]["sha256"] = "00" * 32
    with pytest.raises(ValidationError, match="damaged on the way"):
        PortJob.from_json(json.dumps(data))


def test_an_image_file_changed_after_staging_is_refused(staged: StagedImages) -> None:
    data = json.loads(make_job(_password()).to_json(staged))
    Path(data["images"][0]["file"]).write_bytes(b"\xff" * 2048)
    with pytest.raises(ValidationError, match="'ief' was damaged on the way: its SHA-256 is"):
        PortJob.from_json(json.dumps(data))


def test_the_worker_gets_the_images_zlib_stream_made_by_the_station(staged: StagedImages) -> None:
    job = make_job(_password())
    (stream,) = PortJob.from_json(job.to_json(staged)).deflated
    assert zlib.decompress(stream) == job.images[0].data


def test_a_damaged_zlib_stream_is_refused(staged: StagedImages) -> None:
    data = json.loads(make_job(_password()).to_json(staged))
    deflated = Path(data["images"][0]["deflated_file"])
    deflated.write_bytes(zlib.compress(b"something else"))
    with pytest.raises(ValidationError, match=r"'ief' was damaged on the way: .* is not the zlib stream"):
        PortJob.from_json(json.dumps(data))
    deflated.write_bytes(b"not zlib at all")
    with pytest.raises(ValidationError, match="is not the zlib stream the station made of it"):
        PortJob.from_json(json.dumps(data))


def test_a_missing_image_file_is_named(staged: StagedImages) -> None:
    data = json.loads(make_job(_password()).to_json(staged))
    Path(data["images"][0]["file"]).unlink()
    with pytest.raises(ValidationError, match=r"job image 'ief' is missing from .*has stopped"):
        PortJob.from_json(json.dumps(data))


def test_a_staged_file_removed_meanwhile_is_written_again(staged: StagedImages) -> None:
    job = make_job(_password())
    path = Path(json.loads(job.to_json(staged))["images"][0]["file"])
    path.unlink()
    assert PortJob.from_json(job.to_json(staged)) == job


def test_the_stations_own_folder_is_private_and_goes_with_it() -> None:
    staged = StagedImages()
    job = make_job(_password())
    path = Path(json.loads(job.to_json(staged))["images"][0]["file"])
    assert path.is_file()
    if os.name == "posix":
        assert staged.folder.stat().st_mode & 0o077 == 0
    staged.close()
    assert not staged.folder.exists()


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda d: d.pop("port"), "has no 'port' field"),
        (lambda d: d.update(baud="fast"), "'baud' has the wrong type"),
        (lambda d: d.update(baud=True), "'baud' has the wrong type"),
        (lambda d: d.update(mode="erase"), "must be one of provision, reenrol"),
        (lambda d: d.update(version=99), "version 99"),
        (lambda d: d["images"][0].pop("file"), "images[0] has no 'file' field"),
        (lambda d: d["images"][0].update(offset=-1), "'ief' has a negative offset"),
        (lambda d: d.update(images=[7]), "job image #1 is not an object"),
        (lambda d: d["instance"].pop("root_ca_pem"), "instance has no 'root_ca_pem'"),
        (lambda d: d.update(images=[]), "needs the task's images"),
        (lambda d: d["timeouts"].update(flash=0), "flash timeout must be a positive"),
        (lambda d: d.update(device_type="esp8266"), "unknown device type"),
    ],
)
def test_bad_job_fields(mutate, words: str, staged: StagedImages) -> None:  # type: ignore[no-untyped-def]
    password = _password()
    data = json.loads(make_job(password).to_json(staged))
    mutate(data)
    with pytest.raises(ValidationError) as caught:
        PortJob.from_json(json.dumps(data))
    assert words in str(caught.value)
    assert password not in str(caught.value)


def test_not_json() -> None:
    with pytest.raises(ValidationError, match="not valid JSON"):
        PortJob.from_json("{")
    with pytest.raises(ValidationError, match="must be a JSON object"):
        PortJob.from_json("[]")


def test_reenrol_needs_no_images(staged: StagedImages) -> None:
    job = make_job(_password(), mode=JobMode.REENROL, images=())
    assert PortJob.from_json(job.to_json(staged)).mode is JobMode.REENROL


@pytest.mark.parametrize(
    ("ssid", "password", "words"),
    [
        ("", "abcdefgh", "SSID) cannot be empty"),
        ("x" * 33, "abcdefgh", "longer than 32 bytes"),
        ("a\nb", "abcdefgh", "network name cannot contain a line break"),
        ("net", "abc\ndefgh", "password cannot contain a line break"),
        ("net", "short", "8 to 63 characters; the one given has 5"),
        ("net", "x" * 64, "the one given has 64"),
        ("net", "pässwörter", "printable ASCII"),
    ],
)
def test_wifi_rules(ssid: str, password: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_wifi(ssid, password)
    assert words in str(caught.value)
    if len(password) >= 5:
        assert password not in str(caught.value)


def test_open_network_has_no_password() -> None:
    validate_wifi("guest", "")


def test_redactor() -> None:
    password = _password()
    redact = Redactor(password, "")
    text = f"got {password} and {password}!"
    assert redact(text) == f"got {MASK} and {MASK}!"
    assert not redact.covers(text)
    assert redact.covers(redact(text))
    assert Redactor("")("anything") == "anything"
