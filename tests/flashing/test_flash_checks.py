"""The pre-flash rules as pure functions over ChipSecurityState and image summaries."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, ImageKind
from app.flashing.chip_security import ChipSecurityState
from app.flashing.esp_image import check_image
from app.flashing.flash_checks import (
    check_bootloader,
    check_chip_matches,
    check_release_image_signed,
    expected_release_confirmation,
)
from app.flashing.flash_errors import FlashRefusedError, ReleaseConfirmationError, WrongChipError

from .builders import build_bootloader, key_digest_hex, sign_with

TASK_DIGEST = "ab" * 32
OTHER_DIGEST = "cd" * 32
EXPECTED = expected_release_confirmation("line-7")
OPEN_CHIP = ChipSecurityState(secure_boot_enabled=False, flash_encryption_enabled=False)
RELEASED_TASK_KEY = ChipSecurityState(True, False, key_digests=(TASK_DIGEST,))
RELEASED_OTHER_KEY = ChipSecurityState(True, False, key_digests=(OTHER_DIGEST,))


def test_expected_confirmation_is_the_batch_name() -> None:
    assert EXPECTED == "line-7"


def test_same_chip_passes() -> None:
    check_chip_matches(ChipType.ESP32C3, "ESP32-C3", ChipType.ESP32C3)


@pytest.mark.parametrize(("detected", "name"), [(ChipType.ESP32S3, "ESP32-S3"), (None, "ESP32-C6")])
def test_other_chip_refused(detected: ChipType | None, name: str) -> None:
    with pytest.raises(WrongChipError) as err:
        check_chip_matches(detected, name, ChipType.ESP32C3)
    assert str(err.value).startswith(f"the board is an {name}, but the task is for ESP32-C3")


def test_dev_bootloader_on_open_chip() -> None:
    check_bootloader(OPEN_CHIP, BootloaderKind.DEV, TASK_DIGEST, None, EXPECTED)


def test_dev_bootloader_on_released_chip_refused_with_reason() -> None:
    with pytest.raises(FlashRefusedError) as err:
        check_bootloader(RELEASED_TASK_KEY, BootloaderKind.DEV, TASK_DIGEST, None, EXPECTED)
    message = str(err.value)
    assert "already in release state (Secure Boot is enabled" in message
    assert TASK_DIGEST[:16] in message
    assert "a dev bootloader would never start" in message


def test_release_without_confirmation_refused() -> None:
    with pytest.raises(ReleaseConfirmationError) as err:
        check_bootloader(OPEN_CHIP, BootloaderKind.RELEASE, TASK_DIGEST, None, EXPECTED)
    assert "permanently burns Secure Boot eFuses" in str(err.value)
    assert "confirm by typing exactly: line-7" in str(err.value)


def test_release_with_blank_confirmation_refused() -> None:
    with pytest.raises(ReleaseConfirmationError, match="confirm by typing exactly"):
        check_bootloader(OPEN_CHIP, BootloaderKind.RELEASE, TASK_DIGEST, "   ", EXPECTED)


def test_release_with_wrong_confirmation_refused() -> None:
    with pytest.raises(ReleaseConfirmationError) as err:
        check_bootloader(OPEN_CHIP, BootloaderKind.RELEASE, TASK_DIGEST, "release line-7", EXPECTED)
    assert str(err.value) == (
        "the release confirmation does not match: expected exactly 'line-7', "
        "got 'release line-7'; nothing was written"
    )


def test_release_confirmed_on_open_chip() -> None:
    check_bootloader(OPEN_CHIP, BootloaderKind.RELEASE, TASK_DIGEST, " line-7\n", EXPECTED)


def test_release_on_chip_with_same_key_allowed() -> None:
    check_bootloader(RELEASED_TASK_KEY, BootloaderKind.RELEASE, TASK_DIGEST.upper(), EXPECTED, EXPECTED)


def test_release_on_chip_locked_to_other_key_refused() -> None:
    with pytest.raises(FlashRefusedError) as err:
        check_bootloader(RELEASED_OTHER_KEY, BootloaderKind.RELEASE, TASK_DIGEST, EXPECTED, EXPECTED)
    message = str(err.value)
    assert "locked to another Secure Boot key" in message
    assert f"digest {OTHER_DIGEST[:16]}..." in message
    assert f"key has digest {TASK_DIGEST[:16]}..." in message


def test_digest_burned_but_secure_boot_not_yet_enabled_still_locks_release() -> None:
    half_released = ChipSecurityState(False, False, key_digests=(OTHER_DIGEST,))
    with pytest.raises(FlashRefusedError, match="locked to another Secure Boot key"):
        check_bootloader(half_released, BootloaderKind.RELEASE, TASK_DIGEST, EXPECTED, EXPECTED)


def test_release_refused_when_digests_cannot_be_read() -> None:
    sdm = ChipSecurityState(True, False, secure_download_mode=True, digests_known=False)
    with pytest.raises(FlashRefusedError, match="cannot tell whether the task's key matches"):
        check_bootloader(sdm, BootloaderKind.RELEASE, TASK_DIGEST, EXPECTED, EXPECTED)


def test_flash_encryption_refused_for_any_bootloader() -> None:
    encrypted = ChipSecurityState(False, True)
    for kind in BootloaderKind:
        with pytest.raises(FlashRefusedError, match="flash encryption is enabled"):
            check_bootloader(encrypted, kind, TASK_DIGEST, EXPECTED, EXPECTED)


def test_release_image_signed_by_task_key(signing_key: Path, tmp_path: Path) -> None:
    signed = sign_with(signing_key, build_bootloader(), tmp_path)
    summary = check_image(signed, ChipType.ESP32C3, ImageKind.BOOTLOADER)
    check_release_image_signed(summary, key_digest_hex(signing_key))
    with pytest.raises(FlashRefusedError, match=r"signed by key .* not by the task's key"):
        check_release_image_signed(summary, OTHER_DIGEST)


def test_release_image_unsigned_refused() -> None:
    summary = check_image(build_bootloader(), ChipType.ESP32C3, ImageKind.BOOTLOADER)
    with pytest.raises(FlashRefusedError, match="bootloader image is not signed"):
        check_release_image_signed(summary, TASK_DIGEST)


def test_release_refused_when_a_digest_slot_is_unreadable() -> None:
    unreadable = ChipSecurityState(
        False, False, key_purposes=("SECURE_BOOT_DIGEST0",) + ("USER/EMPTY",) * 5, digests_known=False
    )
    with pytest.raises(FlashRefusedError, match="cannot tell whether the task's key matches"):
        check_bootloader(unreadable, BootloaderKind.RELEASE, TASK_DIGEST, EXPECTED, EXPECTED)
