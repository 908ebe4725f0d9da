"""The IEF's UART protocol as a host sees it: requests, one-read replies, DeviceID, WiFi, persistence."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, IefKind
from app.sim.fleet import SimFleet
from app.sim.nvs_store import NvsStore
from app.sim.partition_table import NVS_OFFSET, NVS_SIZE, SIM_PARTITIONS
from tests.sim.sim_host import esptool_session, flash, run_firmware

Images = Callable[..., list[tuple[int, bytes]]]
REQUESTS = ["ql_rootCA", "ql_endpoint", "ql_port", "wifi_ssid", "wifi_password"]


@pytest.fixture
def provisioned(make_fleet: Callable[..., SimFleet], signed_images: Images) -> SimFleet:
    fleet = make_fleet(chip=ChipType.ESP32C3)
    flash(fleet.urls[0], signed_images(ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG))
    return fleet


def test_second_boot_only_sends_device_id(provisioned: SimFleet, answers: dict[str, Any]) -> None:
    first = run_firmware(provisioned.urls[0], answers)
    second = run_firmware(provisioned.urls[0], answers)
    assert first.requests == [*REQUESTS, f"deviceID:{first.device_id}"]
    assert second.requests == [f"deviceID:{first.device_id}"]
    assert second.connected


def test_device_id_is_sha256_of_the_der_public_key_kept_in_flash(
    provisioned: SimFleet, answers: dict[str, Any]
) -> None:
    result = run_firmware(provisioned.urls[0], answers)
    nvs = next(p for p in SIM_PARTITIONS if p.name == "nvs")
    stored = NvsStore(provisioned.boards[0].state.flash, nvs).get("enrol_key")
    assert stored is not None
    key = serialization.load_der_private_key(bytes.fromhex(stored), password=None)
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert result.device_id == hashlib.sha256(spki).hexdigest()


def test_erasing_nvs_forgets_settings_and_key(provisioned: SimFleet, answers: dict[str, Any]) -> None:
    first = run_firmware(provisioned.urls[0], answers)
    with esptool_session(provisioned.urls[0]) as esp:
        esp.erase_region(NVS_OFFSET, NVS_SIZE)
    again = run_firmware(provisioned.urls[0], answers)
    assert again.requests[:5] == REQUESTS
    assert again.device_id != first.device_id


def test_reply_longer_than_one_read_is_refused_and_asked_again(
    provisioned: SimFleet, answers: dict[str, Any]
) -> None:
    too_long = b"A" * 1100 + answers["ql_rootCA"]  # no newline within the board's 1024-byte read
    answers = {**answers, "ql_rootCA": [too_long, answers["ql_rootCA"]]}
    result = run_firmware(provisioned.urls[0], answers, timeout=20)
    assert re.search(r"E \(\d+\) IEF: ql_rootCA: .*asking again", result.text())
    assert result.requests.count("ql_rootCA") >= 2
    assert result.connected


def test_invalid_values_are_refused_with_a_reason(provisioned: SimFleet, answers: dict[str, Any]) -> None:
    answers = {
        **answers,
        "ql_port": [b"70000", b"6000"],
        "ql_endpoint": [b"not a host!", b"ql.example.test"],
        "wifi_password": [b"short", answers["wifi_password"]],
    }
    result = run_firmware(provisioned.urls[0], answers)
    text = result.text()
    assert "ql_port: not a port number 1-65535; asking again" in text
    assert "ql_endpoint: not a hostname; asking again" in text
    assert "wifi_password: a WPA2 password is 8 to 63 characters; asking again" in text
    assert result.connected


def test_wrong_wifi_credentials_are_asked_for_again(
    provisioned: SimFleet, answers: dict[str, Any], access_point: Any
) -> None:
    answers = {**answers, "wifi_password": [b"not-the-password", access_point.password.encode()]}
    result = run_firmware(provisioned.urls[0], answers, timeout=20)
    assert "authentication failed" in result.text()
    assert "WiFi credentials rejected by the network; asking for new ones" in result.text()
    assert result.requests.count("wifi_ssid") == 2
    assert result.connected


def test_password_is_never_printed(provisioned: SimFleet, answers: dict[str, Any], access_point: Any) -> None:
    result = run_firmware(provisioned.urls[0], answers)
    assert result.connected
    assert access_point.password not in result.text()
    assert "received wifi_password: " in result.text()  # the debug build says that it came, not what


def test_non_debug_build_prints_no_values(
    make_fleet: Callable[..., SimFleet], signed_images: Images, answers: dict[str, Any]
) -> None:
    fleet = make_fleet(chip=ChipType.ESP32S2)
    flash(fleet.urls[0], signed_images(ChipType.ESP32S2, BootloaderKind.DEV, IefKind.NON_DEBUG))
    result = run_firmware(fleet.urls[0], answers)
    assert result.connected
    assert "received ql_endpoint" in result.text()
    assert "ql.example.test" not in "\n".join(line for line in result.lines if "received" in line)
    assert not any(line.startswith("D (") for line in result.lines)


def test_unanswered_request_is_repeated(provisioned: SimFleet, answers: dict[str, Any]) -> None:
    result = run_firmware(provisioned.urls[0], {}, timeout=1.5, until="never")
    assert result.requests.count("ql_rootCA") >= 2
