"""Boot from flash: image checks, Secure Boot V2 against eFuses, and the first boot burning eFuses."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from app.domain.chips import FACTORY_APP_OFFSET, PARTITION_TABLE_OFFSET, ChipType
from app.domain.kinds import BootloaderKind, IefKind
from app.sim.efuses import decode_virtual
from app.sim.fleet import SimFleet
from app.sim.images import build_sim_bootloader, build_sim_ief, build_sim_partition_table
from app.sim.partition_table import EFUSE_EM_OFFSET, EFUSE_EM_SIZE
from tests.sim.sim_host import SecureBootV2, esptool_session, flash, run_firmware

Images = Callable[..., list[tuple[int, bytes]]]


@pytest.mark.parametrize("chip", [ChipType.ESP32, ChipType.ESP32C3])
def test_release_build_boots_burns_efuses_and_completes_ief(
    make_fleet: Callable[..., SimFleet],
    signed_images: Images,
    sbv2: SecureBootV2,
    answers: dict[str, Any],
    chip: ChipType,
) -> None:
    fleet = make_fleet(chip=chip)
    board = fleet.boards[0]
    flash(fleet.urls[0], signed_images(chip, BootloaderKind.RELEASE))
    result = run_firmware(fleet.urls[0], answers)
    assert result.requests[:5] == ["ql_rootCA", "ql_endpoint", "ql_port", "wifi_ssid", "wifi_password"]
    assert result.device_id is not None and re.fullmatch(r"[0-9a-f]{64}", result.device_id)
    assert result.connected
    assert "Secure boot permanently enabled" in result.text()
    assert re.search(r"^I \(\d+\) IEF: ", result.text(), re.MULTILINE)
    efuses = board.state.efuses.state
    assert efuses.secure_boot_en
    assert efuses.key_digests == (sbv2.digest(),)
    with esptool_session(fleet.urls[0]) as esp:
        assert esp.get_secure_boot_enabled()


def test_release_burn_survives_erase_and_replug(
    make_fleet: Callable[..., SimFleet],
    signed_images: Images,
    sbv2: SecureBootV2,
    answers: dict[str, Any],
    tmp_path: Any,
) -> None:
    chip = ChipType.ESP32C3
    fleet = make_fleet(chip=chip, state_root=tmp_path / "root")
    flash(fleet.urls[0], signed_images(chip, BootloaderKind.RELEASE))
    assert run_firmware(fleet.urls[0], answers).connected
    with esptool_session(fleet.urls[0]) as esp:
        esp.erase_flash()
    fleet.close()

    again = make_fleet(chip=chip, state_root=tmp_path / "root")  # the same board, plugged in again
    assert again.boards[0].state.efuses.state.key_digests == (sbv2.digest(),)
    flash(again.urls[0], signed_images(chip, BootloaderKind.RELEASE, key=sbv2.other_key))
    result = run_firmware(again.urls[0], answers, timeout=2, until="secure boot check fail")
    assert "secure boot check fail" in result.text()  # the ROM refuses a bootloader signed by another key
    assert result.requests == []
    flash(again.urls[0], signed_images(chip, BootloaderKind.RELEASE))
    assert run_firmware(again.urls[0], answers).connected


def test_vefuse_build_keeps_efuses_in_flash_and_erasing_efuse_em_resets(
    make_fleet: Callable[..., SimFleet], signed_images: Images, sbv2: SecureBootV2, answers: dict[str, Any]
) -> None:
    chip = ChipType.ESP32S3
    fleet = make_fleet(chip=chip)
    board = fleet.boards[0]
    flash(fleet.urls[0], signed_images(chip, BootloaderKind.DEV))
    result = run_firmware(fleet.urls[0], answers)
    assert result.connected
    assert "[Virtual] Secure boot enabled in virtual eFuses" in result.text()
    assert board.state.efuses.state.blank  # the real eFuses are untouched
    virtual = decode_virtual(board.state.flash.read(EFUSE_EM_OFFSET, EFUSE_EM_SIZE))
    assert virtual.secure_boot_en and virtual.key_digests == (sbv2.digest(),)

    other = signed_images(chip, BootloaderKind.DEV, key=sbv2.other_key)
    flash(fleet.urls[0], other)
    refused = run_firmware(fleet.urls[0], answers, timeout=2, until="not bootable")
    assert "bootloader signature does not match the eFuse key digest" in refused.text()

    with esptool_session(fleet.urls[0]) as esp:
        esp.erase_region(EFUSE_EM_OFFSET, EFUSE_EM_SIZE)
    result = run_firmware(fleet.urls[0], answers)  # blank again: the other key is accepted and burned
    assert result.connected
    virtual = decode_virtual(board.state.flash.read(EFUSE_EM_OFFSET, EFUSE_EM_SIZE))
    assert virtual.key_digests == (sbv2.digest(sbv2.other_key),)


def test_tampered_app_is_refused(
    make_fleet: Callable[..., SimFleet], signed_images: Images, answers: dict[str, Any]
) -> None:
    chip = ChipType.ESP32C3
    fleet = make_fleet(chip=chip)
    images = signed_images(chip, BootloaderKind.DEV)
    flash(fleet.urls[0], images)
    assert run_firmware(fleet.urls[0], answers).connected

    ief = bytearray(images[2][1])
    ief[0x200] ^= 0x01  # one bit inside a segment
    flash(fleet.urls[0], [(FACTORY_APP_OFFSET, bytes(ief))])
    result = run_firmware(fleet.urls[0], answers, timeout=2, until="No bootable app")
    assert re.search(r"E \(\d+\) esp_image: Checksum failure", result.text())
    assert "E (" in result.text() and "Factory app partition is not bootable" in result.text()
    assert result.requests == []


def test_app_resigned_by_another_key_is_refused(
    make_fleet: Callable[..., SimFleet], signed_images: Images, sbv2: SecureBootV2, answers: dict[str, Any]
) -> None:
    chip = ChipType.ESP32
    fleet = make_fleet(chip=chip)
    flash(fleet.urls[0], signed_images(chip, BootloaderKind.RELEASE))
    assert run_firmware(fleet.urls[0], answers).connected
    foreign = sbv2.sign(build_sim_ief(chip, IefKind.DEBUG), key=sbv2.other_key)
    flash(fleet.urls[0], [(FACTORY_APP_OFFSET, foreign)])
    result = run_firmware(fleet.urls[0], answers, timeout=2, until="No bootable app")
    assert "Secure Boot V2 verification failed." in result.text()


def test_unsigned_bootloader_cannot_enable_secure_boot(
    make_fleet: Callable[..., SimFleet], answers: dict[str, Any]
) -> None:
    chip = ChipType.ESP32S2
    fleet = make_fleet(chip=chip)
    flash(
        fleet.urls[0],
        [
            (chip.bootloader_offset, build_sim_bootloader(chip, BootloaderKind.RELEASE)),
            (PARTITION_TABLE_OFFSET, build_sim_partition_table(chip)),
            (FACTORY_APP_OFFSET, build_sim_ief(chip, IefKind.DEBUG)),
        ],
    )
    result = run_firmware(fleet.urls[0], answers, timeout=2, until="setup failed")
    assert "bootloader image is not signed" in result.text()
    assert fleet.boards[0].state.efuses.state.blank


def test_app_for_another_chip_is_refused(
    make_fleet: Callable[..., SimFleet], signed_images: Images, sbv2: SecureBootV2, answers: dict[str, Any]
) -> None:
    fleet = make_fleet(chip=ChipType.ESP32C3)
    images = signed_images(ChipType.ESP32C3, BootloaderKind.DEV)
    images[2] = (FACTORY_APP_OFFSET, sbv2.sign(build_sim_ief(ChipType.ESP32S3, IefKind.DEBUG)))
    flash(fleet.urls[0], images)
    result = run_firmware(fleet.urls[0], answers, timeout=2, until="No bootable app")
    assert "mismatch chip ID, expected 5, found 9" in result.text()


def test_broken_partition_table_is_reported(
    make_fleet: Callable[..., SimFleet], signed_images: Images, answers: dict[str, Any]
) -> None:
    chip = ChipType.ESP32C3
    fleet = make_fleet(chip=chip)
    images = signed_images(chip, BootloaderKind.DEV)
    table = bytearray(images[1][1])
    table[40] ^= 0xFF
    images[1] = (PARTITION_TABLE_OFFSET, bytes(table))
    flash(fleet.urls[0], images)
    result = run_firmware(fleet.urls[0], answers, timeout=2, until="load partition table error")
    assert "MD5 does not match" in result.text()
