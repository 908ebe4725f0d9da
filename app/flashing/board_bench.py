"""The lab bench: one board in download mode, looked at and (behind a typed confirmation) changed.

Open identifies the board once; every action then asks `bench_policy` first and refuses with its reason
before anything is written. Irreversible actions also want the board's MAC typed back. Closing resets
the board into its firmware (esptool's default `--after hard-reset`), so what was changed takes effect
and the board is not left running the flasher stub -- except after resetting virtual eFuses: a dev
bootloader that starts with blank virtual eFuses burns its own key into them at once, which would undo
the reset with the old key, so a dev board with blank virtual eFuses is left in download mode for the
next provisioning (after a reset and after merely looking at it).

The caller reserves the port first (app.ports.reservation), as provisioning does, so a board that is
being provisioned is never touched from the bench.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from types import TracebackType

from app.domain.errors import ConflictError, StationError, ValidationError
from app.flashing.bench_policy import (
    check_confirmation,
    why_not_erase_flash,
    why_not_erase_settings,
    why_not_read_flash,
    why_not_reset_vefuses,
)
from app.flashing.board_connection import BoardConnection
from app.flashing.board_facts import BoardFacts, BuildKind, read_board_facts
from app.flashing.efuse_table import EfuseRow, read_real_efuses, with_virtual
from app.flashing.flash_events import EventSink, discard
from app.flashing.vefuse_partition import VirtualEfuseStatus

SETTINGS_LOST = (
    "the IEF's stored WiFi network and password, the instance endpoint, port and root CA, and the "
    "enrolment key pair: the board makes a new key, so it reports a NEW DeviceID at its next enrolment"
)


class BenchRefusedError(ConflictError):
    """The board's state makes this action meaningless or harmful; nothing was changed."""


@dataclass(frozen=True)
class EfuseTable:
    rows: list[EfuseRow]
    virtual_note: str  # what the virtual column is (or why there is none)


class BoardBench:
    def __init__(self, board: BoardConnection, facts: BoardFacts) -> None:
        self._board = board
        self.facts = facts
        # blank virtual eFuses stay blank only until the firmware boots (see the module's docstring)
        v = facts.virtual_efuses
        self._reset_on_close = not (
            facts.build is BuildKind.DEV and v is not None and v.status is VirtualEfuseStatus.BLANK
        )

    @classmethod
    def open(cls, url: str, sink: EventSink = discard) -> BoardBench:
        board = BoardConnection.open(url, sink=sink)
        try:
            return cls(board, read_board_facts(board))
        except BaseException:
            board.close()
            raise

    def __enter__(self) -> BoardBench:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Reset into the firmware, then release the port (a reset failure must not hide the result)."""
        if self._reset_on_close:
            with suppress(StationError):
                self._board.hard_reset()
        self._board.close()

    # ------------------------------------------------------------------ looking
    def efuses(self, virtual: bool = False) -> EfuseTable:
        if self.facts.secure_download:
            raise BenchRefusedError(
                "the eFuses cannot be read: the chip is in secure download mode, which refuses register "
                "reads; `board info` shows what its security info tells"
            )
        rows = read_real_efuses(self._board)
        if not virtual:
            return EfuseTable(rows, "")
        v = self.facts.virtual_efuses
        if self.facts.build is not BuildKind.DEV or v is None or self.facts.chip is None:
            return EfuseTable(rows, f"no virtual eFuses: {self.facts.build_reason or 'not a veFuse build'}")
        if v.status is VirtualEfuseStatus.UNREADABLE:
            return EfuseTable(rows, f"virtual eFuses unreadable: {v.problem}")
        note = "virtual eFuses are blank (erased)" if v.status is VirtualEfuseStatus.BLANK else ""
        return EfuseTable(with_virtual(rows, self.facts.chip, v), note or "virtual eFuses from efuse_em")

    def read_flash(self, offset: int, size: int, progress: Callable[[int, int], None] | None = None) -> bytes:
        self._refuse(why_not_read_flash(self.facts, offset, size))
        with self._board.step(f"reading {size} bytes at {offset:#x}"):
            return bytes(self._board.loader.read_flash(offset, size, progress_fn=progress))

    # ------------------------------------------------------------------ changing
    def reset_vefuses(self, confirm: str) -> str:
        """Erase efuse_em, so the dev build starts from blank virtual eFuses and takes a new key."""
        self._refuse(why_not_reset_vefuses(self.facts))
        check_confirmation(self.facts, confirm)
        part = self.facts.efuse_em
        assert part is not None  # the policy refuses a board without one
        self._reset_on_close = False  # blank virtual eFuses stay blank only until the firmware boots
        v = self.facts.virtual_efuses
        if v is not None and v.status is VirtualEfuseStatus.BLANK:
            return f"the virtual eFuses of {self.facts.mac} are already blank; nothing to erase"
        self._erase(part.offset, part.size, "erasing the efuse_em partition")
        return (
            f"virtual eFuses of {self.facts.mac} erased ({part.size // 1024} KiB at {part.offset:#x}); "
            "the board is left in download mode and the next provisioning burns the key of its task into "
            "them (a reset into its old firmware first would burn the old key again)"
        )

    def erase_settings(self, confirm: str) -> str:
        self._refuse(why_not_erase_settings(self.facts))
        check_confirmation(self.facts, confirm)
        part = self.facts.nvs
        assert part is not None
        self._erase(part.offset, part.size, "erasing the nvs partition")
        where = f"nvs, {part.size // 1024} KiB at {part.offset:#x}"
        return f"settings of {self.facts.mac} erased ({where}): lost {SETTINGS_LOST}"

    def erase_flash(self, confirm: str) -> str:
        self._refuse(why_not_erase_flash(self.facts))
        check_confirmation(self.facts, confirm)
        with self._board.step("erasing the whole flash"):
            self._board.loader.erase_flash()
        return f"the whole flash of {self.facts.mac} is erased; the board must be provisioned again"

    def _erase(self, offset: int, size: int, what: str) -> None:
        with self._board.step(what):
            self._board.loader.erase_region(offset, size)

    def _refuse(self, reason: str | None) -> None:
        if reason is not None:
            raise BenchRefusedError(reason)


def facts_fields(facts: BoardFacts) -> list[tuple[str, str]]:
    """What `board info` and the Board page show of a board, as (label, text) rows."""
    unknown = "unknown (secure download mode)"
    sec = facts.security
    fields: list[tuple[str, str]] = [
        ("port", facts.port),
        ("chip", facts.description or facts.chip_name),
        ("MAC", facts.mac or unknown),
        ("crystal", f"{facts.crystal_mhz} MHz" if facts.crystal_mhz else unknown),
        ("flash", f"{facts.flash_size}, {facts.flash_id}" if facts.flash_size else unknown),
    ]
    if sec is not None:
        digests = ", ".join(sec.key_digests) if sec.key_digests else "none"
        fields += [
            ("secure boot", "enabled" if sec.secure_boot_enabled else "disabled"),
            ("flash encryption", "enabled" if sec.flash_encryption_enabled else "disabled"),
            ("secure download", "enabled" if sec.secure_download_mode else "disabled"),
            ("key digests", digests if sec.digests_known else "not readable"),
        ]
    fields.append(("build", f"{facts.build.value}: {facts.build_reason}"))
    v = facts.virtual_efuses
    if v is not None:
        state = v.problem or ("secure boot enabled" if v.secure_boot_enabled else "secure boot not enabled")
        fields.append(("virtual eFuses", f"{v.status.value}, {state}"))
        for digest in v.key_digests:
            fields.append(("virtual digest", digest))
    return fields


def parse_size(text: str, what: str) -> int:
    """A number as a person types an offset or a size: decimal, 0x-hex, or with a K/M suffix."""
    raw = text.strip().lower()
    scale = 1
    if raw.endswith(("k", "m")):
        scale = 1024 if raw.endswith("k") else 1024 * 1024
        raw = raw[:-1]
    try:
        value = int(raw, 0) * scale
    except ValueError:
        raise ValidationError(f"{what} {text!r} is not a number (e.g. 0x8000, 4096 or 64K)") from None
    if value < 0:
        raise ValidationError(f"{what} {text!r} is negative")
    return value
