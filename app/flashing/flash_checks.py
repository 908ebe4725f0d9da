"""Checks made before a single byte is written: right chip, and a bootloader the chip can live with.

Pure functions over plain data (the chip's `ChipSecurityState`, the task's images) so every rule is
tested without a board. The two that protect hardware: a release bootloader burns Secure Boot eFuses
for good, so it needs the person's typed confirmation and is refused on a chip already locked to
another key; a dev bootloader on a chip in release state would never boot, so it is refused too.
"""

from __future__ import annotations

from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind
from app.flashing.chip_security import ChipSecurityState
from app.flashing.esp_image import ImageSummary
from app.flashing.flash_errors import FlashRefusedError, ReleaseConfirmationError, WrongChipError


def expected_release_confirmation(batch_name: str) -> str:
    """The text a person types to allow a release bootloader (CLI argument or GUI dialog).

    It is the name of the batch the boards go into: typing it proves the person looked at which
    production run is about to lock chips for good, and it is the same word in the CLI and the GUI.
    """
    return batch_name


def check_chip_matches(detected: ChipType | None, detected_name: str, required: ChipType) -> None:
    if detected is required:
        return
    raise WrongChipError(
        f"the board is an {detected_name}, but the task is for {required.display_name}; "
        f"plug in an {required.display_name} board or choose a task for {detected_name}"
    )


def check_release_confirmation(typed: str | None, expected: str) -> None:
    if typed is None or not typed.strip():
        raise ReleaseConfirmationError(
            "a release bootloader permanently burns Secure Boot eFuses on the chip; "
            f"to go ahead, confirm by typing exactly: {expected}"
        )
    if typed.strip() != expected:
        raise ReleaseConfirmationError(
            f"the release confirmation does not match: expected exactly {expected!r}, got {typed.strip()!r}; "
            "nothing was written"
        )


def check_flash_encryption(state: ChipSecurityState) -> None:
    if state.flash_encryption_enabled:
        raise FlashRefusedError(
            "flash encryption is enabled on this chip and the station writes plaintext images; "
            "writing them would leave the board unbootable. Use a board without flash encryption"
        )


def check_dev_bootloader(state: ChipSecurityState) -> None:
    if state.release_state:
        digests = _short(state.key_digests) if state.key_digests else "unreadable"
        raise FlashRefusedError(
            "this chip is already in release state (Secure Boot is enabled in its eFuses), so it boots "
            f"only images signed with its key (digest {digests}); a dev bootloader would never start. "
            "Use a release task signed with that key"
        )


def check_release_bootloader(
    state: ChipSecurityState, task_key_digest_hex: str, typed: str | None, expected: str
) -> None:
    check_release_confirmation(typed, expected)
    wanted = task_key_digest_hex.strip().lower()
    if not state.digests_known and (state.release_state or state.has_digest_purpose):
        raise FlashRefusedError(
            "this chip holds a Secure Boot key digest the station cannot read (secure download mode or "
            "an unreadable key block), so it cannot tell whether the task's key matches; refused"
        )
    if state.key_digests and wanted not in {d.lower() for d in state.key_digests}:
        raise FlashRefusedError(
            f"this chip is locked to another Secure Boot key: its eFuses hold digest "
            f"{_short(state.key_digests)}, the task's signing key has digest {_short((wanted,))}. "
            "A bootloader signed with the task's key would never boot on it; use a board that is not "
            "yet secured or the task whose key matches"
        )


def check_release_image_signed(summary: ImageSummary, task_key_digest_hex: str) -> None:
    """A release bootloader must carry a signature by the task's key, or the chip bricks itself."""
    name = summary.kind.value
    if not summary.signed:
        raise FlashRefusedError(f"the release task's {name} image is not signed (no Secure Boot V2 block)")
    wanted = task_key_digest_hex.strip().lower()
    if wanted not in summary.key_digests:
        raise FlashRefusedError(
            f"the {name} image is signed by key {_short(summary.key_digests)}, "
            f"not by the task's key {_short((wanted,))}"
        )


def check_bootloader(
    state: ChipSecurityState,
    kind: BootloaderKind,
    task_key_digest_hex: str,
    typed_confirmation: str | None,
    expected_confirmation: str,
) -> None:
    """All security rules for writing a bootloader of `kind` to a chip in `state`."""
    check_flash_encryption(state)
    if kind is BootloaderKind.DEV:
        check_dev_bootloader(state)
    else:
        check_release_bootloader(state, task_key_digest_hex, typed_confirmation, expected_confirmation)


def _short(digests: tuple[str, ...]) -> str:
    return " / ".join(f"{d[:16]}..." for d in digests)
