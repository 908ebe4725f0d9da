"""End to end: a virtual board flashed with a task the instance signed enrols, is offered its batch's
firmware, downloads it over the same TLS connection, checks its SHA-256 and Secure Boot V2 signature,
writes it to its OTA slot, restarts, and its bootloader checks the signature again before the new
version runs and reports itself. Each refusal shows on the board's console with its own line and
leaves the board on the version it ran."""

from __future__ import annotations

import dataclasses
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, DeviceState, IefKind, KeyType
from app.domain.records import PageRequest, certificate_base64
from app.enrolment.runner import EnrolListen, start_enrolment
from app.enrolment.service import EnrolmentService
from app.instance.local.instance import LocalInstance
from app.provisioning.events import LogEvent, Outcome, ResultEvent
from app.provisioning.job_builder import provisioning_job
from app.provisioning.port_worker import EXIT_PASS
from app.sim.faults import Faults
from app.sim.fleet import SimFleet
from app.sim.ief import IefSettings
from app.sim.images import build_sim_ief
from app.sim.run_context import AccessPoint
from tests.provisioning.test_port_worker import parse, run_worker_with_station
from tests.sim.sim_host import FAST_IEF, IefResult, flash, run_firmware

CHIP = ChipType.ESP32C3


@dataclass
class Site:
    instance: LocalInstance
    service: EnrolmentService
    fleet: SimFleet
    answers: dict[str, bytes]

    def boot(self, until: str, timeout: float = 30.0) -> IefResult:
        return run_firmware(self.fleet.urls[0], dict(self.answers), timeout=timeout, until=until)

    def upload(self, name: str, version: str, key: str = "k", chip: ChipType = CHIP) -> None:
        data = build_sim_ief(chip, IefKind.DEBUG, version=version)
        self.instance.upload_firmware(name, version, chip, [("hw", "rev2")], data, key)
        self.instance.set_batch_firmware("line", name)

    def enrolled_board(self) -> str:
        """Boot the board once (its DeviceID is unknown: refused), add it to `line`: it may enrol now."""
        first = self.boot(" QL: enrolment refused")
        assert first.device_id is not None, first.text()
        self.instance.add_devices("line", [first.device_id])
        return first.device_id


def _site(tmp_path: Path, faults: Faults | None = None, settings: IefSettings = FAST_IEF) -> Iterator[Site]:
    with LocalInstance.open(tmp_path / "instance.sqlite3") as instance:
        instance.create_signing_key("k", KeyType.RSA_3072)
        instance.create_task("t", CHIP, BootloaderKind.DEV, IefKind.DEBUG, "k")
        instance.create_batch("line")
        images = [(image.offset, image.data) for image in instance.task_images("t").images]
        service = start_enrolment(instance, EnrolListen("127.0.0.1", 0), tmp_path)
        ap = AccessPoint(ssid=f"ota-{secrets.token_hex(2)}", password=secrets.token_urlsafe(10))
        fleet = SimFleet(
            tmp_path / "boards", chip=CHIP, pacing=False, access_point=ap, ief_settings=settings,
            faults=[faults or Faults()],
        )  # fmt: skip
        try:
            flash(fleet.urls[0], images)
            root = next(c.pem for c in instance.certificates() if c.role == "root")
            answers = {
                "ql_rootCA": certificate_base64(root).encode(),
                "ql_endpoint": b"localhost",
                "ql_port": str(service.port).encode(),
                "wifi_ssid": ap.ssid.encode(),
                "wifi_password": ap.password.encode(),
            }
            yield Site(instance, service, fleet, answers)
        finally:
            fleet.close()
            service.stop()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from _site(tmp_path)


def _error(text: str, tag: str) -> str:
    found = re.search(rf"^E \(\d+\) {re.escape(tag)}: (.*)$", text, re.MULTILINE)
    assert found, text
    return found.group(1)


def test_the_board_updates_to_its_batch_firmware_and_reports_it(site: Site) -> None:
    device_id = site.enrolled_board()
    site.upload("app-2.1.0", "2.1.0")
    run = site.boot(" QL: status: enrolled in batch 'line', no firmware update")
    text = run.text()
    assert "QL: status: enrolled in batch 'line', firmware update available: app-2.1.0 version 2.1.0" in text
    assert re.search(r"QL: firmware downloaded: \d+ bytes, SHA-256 verified", text), text
    assert "esp_ota_ops: wrote" in text and "to partition 'ota_0' at 0x120000" in text
    assert "QL: firmware app-2.1.0 version 2.1.0 installed; restarting" in text
    after = text.split("installed; restarting", 1)[1]
    assert "boot: otadata: sequence 1 selects partition 'ota_0' at 0x120000" in after
    assert "secure_boot_v2: Signature verified successfully!" in after  # the bootloader checked again
    assert "App version:      2.1.0" in after and "IEF DATA" not in after
    certificate = site.instance.device_enrolment().certificate_of(device_id)
    assert certificate is not None and certificate.firmware == "2.1.0"
    assert site.instance.get_firmware("app-2.1.0").devices_running == 1
    device = site.instance.find_device(device_id)
    assert device is not None and device.state is DeviceState.ENROLLED, "a check-in renews nothing"
    assert site.service.counters.firmware_downloads == 1 and site.service.counters.checked_in == 1
    assert re.search(r"QL: checked in with certificate serial [0-9a-f]+ valid until", after)
    assert certificate.enrolments == 1
    actions = [e.action for e in site.instance.list_activity(PageRequest(limit=20)).items]
    assert "device.firmware-download" in actions

    again = site.boot(" QL: status:")  # a reset later: still the update, nothing downloaded again
    assert "App version:      2.1.0" in again.text() and "no firmware update" in again.text()
    assert site.service.counters.firmware_downloads == 1


def test_a_firmware_signed_by_another_key_is_refused_by_the_board(site: Site) -> None:
    site.enrolled_board()
    site.instance.create_signing_key("other", KeyType.ECDSA_P256)
    site.upload("foreign", "9.9.9", key="other")
    run = site.boot(" QL: firmware update refused")
    text = run.text()
    assert _error(text, "secure_boot_v2").startswith("Secure Boot V2 verification failed (")
    assert _error(text, "QL") == (
        "firmware update refused: bad signature (not signed by a key this board's secure boot trusts); "
        "staying on the running firmware"
    )
    assert "installed; restarting" not in text
    again = site.boot(" QL: status:")
    assert "App version:      sim-1" in again.text()


def test_a_firmware_for_another_chip_is_refused_at_download(site: Site) -> None:
    device_id = site.enrolled_board()
    site.upload("esp32-build", "3.0.0", chip=ChipType.ESP32)
    run = site.boot("esp_https_ota:")
    message = _error(run.text(), "esp_https_ota")
    assert message.startswith(
        "firmware download refused: wrong_chip: firmware 'esp32-build' is built for esp32, this device is "
        "esp32c3: give batch 'line' a firmware for this device type"
    ), message
    assert site.service.counters.refused.get("wrong_chip") == 1
    certificate = site.instance.device_enrolment().certificate_of(device_id)
    assert certificate is not None and certificate.firmware == "sim-1"


def test_a_download_cut_short_is_refused_and_the_board_keeps_its_firmware(tmp_path: Path) -> None:
    for site in _site(tmp_path, Faults(ota_drop_at=6144 * 3)):
        site.enrolled_board()
        site.upload("app-2.1.0", "2.1.0")
        run = site.boot("esp_https_ota:")
        message = _error(run.text(), "esp_https_ota")
        size = site.instance.get_firmware("app-2.1.0").size
        assert message == f"image download incomplete: {6144 * 3} of {size} bytes (connection lost)"
        assert "installed; restarting" not in run.text()
        assert site.service.counters.firmware_downloads == 0
        again = site.boot("esp_https_ota:")  # the certificate it got before the download was kept
        assert "QL: checked in with certificate serial" in again.text()
        assert site.service.counters.checked_in == 1


def test_a_firmware_assigned_later_reaches_a_running_board_at_its_next_check_in(tmp_path: Path) -> None:
    for site in _site(tmp_path, settings=dataclasses.replace(FAST_IEF, update_check_interval=0.5)):
        device_id = site.enrolled_board()
        first = site.boot(" QL: status: enrolled in batch 'line', no firmware update")
        assert "firmware update available" not in first.text()
        site.upload("app-2.1.0", "2.1.0")  # while the board runs, nobody watching its console
        desk = site.instance.device_enrolment()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            held = desk.certificate_of(device_id)
            if held is not None and held.firmware == "2.1.0":
                break
            time.sleep(0.1)
        held = desk.certificate_of(device_id)
        assert held is not None and held.firmware == "2.1.0" and held.enrolments == 1
        assert site.service.counters.firmware_downloads == 1


def test_provisioning_a_board_again_after_an_update_boots_the_ief_just_written(site: Site) -> None:
    """ESP-IDF's flashing blanks otadata; the station does too, or an updated board would boot its update,
    never run the IEF, and the run would time out waiting for it."""
    site.enrolled_board()
    site.upload("app-2.1.0", "2.1.0")
    updated = site.boot(" QL: status: enrolled in batch 'line', no firmware update")
    assert "App version:      2.1.0" in updated.text()

    ap = site.fleet.access_point
    job = provisioning_job(site.instance, task="t", batch="line", ssid=ap.ssid, password=ap.password)
    job = job.for_port(site.fleet.urls[0])
    code, lines, stderr = run_worker_with_station(job, answer=True)

    events = parse(lines, job.port)
    result = events[-1]
    assert code == EXIT_PASS and isinstance(result, ResultEvent), (stderr, result)
    assert result.outcome is Outcome.PASS, result.message
    assert any(isinstance(e, LogEvent) and "otadata at 0x112000 erased" in e.text for e in events), (
        "the run says it blanked otadata"
    )
    # (The IEF it ran then enrolled and took its batch's update again: that is the batch's choice.)
