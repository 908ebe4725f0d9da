"""Errors of talking to a board: each says what happened and what the person can do about it."""

from __future__ import annotations

from app.domain.errors import StationError


class FlashError(StationError):
    """A board could not be detected, flashed or reset."""


class BoardNotFoundError(FlashError):
    """The port cannot be opened: wrong name, unplugged, or held by another program."""


class BoardNotRespondingError(FlashError):
    """The port opened but no ROM bootloader answered (not in download mode, wrong baud, no board)."""


class BoardVanishedError(FlashError):
    """The board stopped answering part-way (unplugged, reset, cable fault)."""


class FlashTimeoutError(FlashError):
    """An operation took longer than allowed."""


class WrongChipError(FlashError):
    """The board is another chip than the task is for."""


class VerifyError(FlashError):
    """What was read back from flash does not match what was written."""


class FlashRefusedError(FlashError):
    """A pre-flash check refused the write; nothing was written."""


class ReleaseConfirmationError(FlashRefusedError):
    """A release bootloader needs the person's typed confirmation and it is missing or wrong."""


class FlashCancelledError(FlashError):
    """The person (or the supervisor) cancelled the write; the board needs a reset and a reflash."""
