"""When the lab bench refuses an action, and why: pure functions over `BoardFacts`.

Every irreversible bench action (reset virtual eFuses, erase settings, erase flash) and the flash backup
first ask here. Each answer is None (go ahead) or a sentence a person can act on. Kept apart from the
code that talks to the board, so each refusal is tested on facts alone and the window and the CLI refuse
for exactly the same reasons.
"""

from __future__ import annotations

from app.domain.errors import ConflictError, ValidationError
from app.flashing.board_facts import BoardFacts, BuildKind


def check_confirmation(facts: BoardFacts, typed: str) -> None:
    """The person typed this board's MAC: they mean this board, not the one next to it."""
    if facts.mac is None:
        raise ConflictError(
            f"the board on {facts.port} does not tell its MAC (secure download mode), so it cannot be "
            "confirmed; nothing was changed"
        )
    if typed.strip().lower().replace("-", ":") != facts.mac:
        raise ValidationError(
            f"--confirm {typed!r} is not the MAC of the board on {facts.port} ({facts.mac}); "
            "type that board's MAC to confirm"
        )


def _unreadable(facts: BoardFacts, what: str) -> str | None:
    if facts.secure_download:
        return f"{what} is refused: the chip is in secure download mode, which answers no flash reads"
    if facts.flash_encrypted:
        return f"{what} is refused: flash encryption is on, so the flash reads as ciphertext"
    return None


def why_not_reset_vefuses(facts: BoardFacts) -> str | None:
    what = "resetting virtual eFuses"
    if (reason := _unreadable(facts, what)) is not None:
        return reason
    real = facts.security
    if real is not None and (real.secure_boot_enabled or real.holds_key_digest):
        digests = ", ".join(d[:16] + "..." for d in real.key_digests) or "unreadable"
        return (
            f"{what} is refused: this chip's real Secure Boot eFuses are burned (key digest {digests}); "
            "they are permanent, and it only boots images signed by that key whatever the virtual "
            "eFuses say"
        )
    if facts.build is BuildKind.RELEASE:
        return f"{what} is refused: this is a release build ({facts.build_reason}); nothing virtual to reset"
    if facts.build is not BuildKind.DEV:
        return f"{what} is refused: no veFuse build found ({facts.build_reason})"
    return None


def why_not_erase_settings(facts: BoardFacts) -> str | None:
    what = "erasing the settings"
    if (reason := _unreadable(facts, what)) is not None:
        return reason
    if facts.nvs is None:
        return f"{what} is refused: there is no nvs partition ({facts.build_reason or 'no partition table'})"
    return None


def why_not_read_flash(facts: BoardFacts, offset: int, size: int) -> str | None:
    if (reason := _unreadable(facts, "reading flash")) is not None:
        return reason
    return _range_problem(facts, offset, size)


def why_not_erase_flash(facts: BoardFacts) -> str | None:
    what = "erasing the whole flash"
    if facts.secure_download:
        return f"{what} is refused: the chip is in secure download mode, whose ROM cannot erase the chip"
    if facts.flash_encrypted:
        return (
            f"{what} is refused: flash encryption is on; the erased chip would only accept images "
            "encrypted with its own key, which the station does not hold"
        )
    real = facts.security
    if real is not None and real.secure_boot_enabled:
        return (
            f"{what} is refused: real Secure Boot is enabled; the erased chip would boot only images "
            "signed by its burned key and its DeviceID would be lost. Re-provision it with that key instead"
        )
    return None


def _range_problem(facts: BoardFacts, offset: int, size: int) -> str | None:
    if offset < 0 or size <= 0:
        return "the offset must be 0 or more and the size more than 0"
    limit = _flash_bytes(facts.flash_size)
    if limit is not None and offset + size > limit:
        return (
            f"{offset:#x}+{size:#x} ends past the end of the {facts.flash_size} flash ({limit:#x}); "
            "give a smaller size"
        )
    return None


def _flash_bytes(size: str | None) -> int | None:
    if size is None or not size.endswith("MB") or not size[:-2].isdigit():
        return None
    return int(size[:-2]) * 1024 * 1024
