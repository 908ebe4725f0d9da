"""What a board's ROM and bootloader say after a reset, read as a verdict: started, still going, or failed.

After the station resets a board into the flashed firmware, the ROM prints its banner (`rst:0x1
(POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)`), then the second-stage bootloader its ESP-IDF log lines,
then the app (our IEF) starts and sends its first `IEF DATA` request. A board that cannot get there says
why on the same UART, in words ESP-IDF and the ROM have printed for years:

    invalid header: 0xffffffff                       ROM: no bootloader image where it looks (or garbage)
    flash read err, 1000 / ets_main.c 371            ROM: cannot read the flash (wiring, power, flash mode)
    secure boot check fail / ets_main.c 333          ROM: the bootloader's signature fails the eFuse digest
    E (..) esp_image: Secure boot signature verification failed      bootloader: the app's signature
    E (..) esp_image: image at 0x10000 has invalid magic byte (nothing flashed here?)
    E (..) esp_image: Checksum failed. Calculated 0x15 read 0xf       a damaged app image
    E (..) boot: No bootable app partitions in the partition table   the bootloader gives up (and resets)
    Guru Meditation Error: Core  0 panic'ed (LoadProhibited) ...      the app crashed
    Brownout detector was triggered                                   the supply sagged; a reset follows
    rst:0x7 (TG0WDT_SYS_RESET) / rst:0x10 (RTCWDT_RTC_RESET)          a watchdog reset the chip
    rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(...)) / waiting for download
                                                                      IO0 was low at reset: download mode

Failing boards then reset and print it all again, so one line is usually decisive at once; a board that
keeps resetting for another reason is stopped at the third ROM banner. This module only reads lines and
time: no port, no clock of its own (`BootWatch` is fed; the caller decides when time is up), so every
verdict can be tested on real transcripts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

IEF_MARKER = "IEF DATA"
MAX_BOOTS = 3
"""ROM banners seen before a board counts as boot-looping: ours, and two it caused itself."""


class BootFault(Enum):
    """Why a board did not start its firmware; the value is the short reason shown on a slot."""

    SECURE_BOOT = "secure boot verification failed"
    INVALID_HEADER = "invalid image header"
    IMAGE_CORRUPT = "damaged firmware image"
    WRONG_CHIP = "image built for another chip"
    FLASH_READ = "flash read error"
    NO_APP = "no bootable app"
    BROWNOUT = "repeated brown-out resets"
    WATCHDOG = "repeated watchdog resets"
    BOOT_LOOP = "repeated resets"
    PANIC = "firmware panic"
    DOWNLOAD_MODE = "started in download mode"
    SILENT = "printed nothing after reset"
    NOT_STARTED = "firmware did not start"


_ADVICE = {
    BootFault.SECURE_BOOT: (
        "the image is not signed with the key whose digest is burned in this board's eFuses; check that "
        "the task's signing key matches the board (a board locked to another key cannot take this task)"
    ),
    BootFault.INVALID_HEADER: (
        "there is no valid image where the chip looks for it: the flash offsets, the flash mode or the "
        "image are wrong for this chip; provision it again and check the task's images"
    ),
    BootFault.IMAGE_CORRUPT: "the image in flash is damaged; provision the board again",
    BootFault.WRONG_CHIP: "the task's images were built for another chip type; check the task's device type",
    BootFault.FLASH_READ: (
        "the chip cannot read its flash: check the board's power and that nothing is wired to the flash "
        "pins (GPIO6-11 on an ESP32), then provision it again"
    ),
    BootFault.NO_APP: "the bootloader found no app it can start; provision the board again",
    BootFault.BROWNOUT: (
        "the supply voltage sags (brown-out): use a powered USB hub or a shorter cable, then try again"
    ),
    BootFault.WATCHDOG: "a watchdog keeps resetting the chip; the firmware hangs while starting",
    BootFault.BOOT_LOOP: "the board keeps resetting itself; see its log",
    BootFault.PANIC: "the firmware crashed; see the board's log for the backtrace",
    BootFault.DOWNLOAD_MODE: (
        "IO0 (GPIO0/GPIO9) was held low at reset: release the BOOT button, check the strapping pins "
        "and the auto-reset circuit, then try again"
    ),
    BootFault.SILENT: (
        "check that the board is powered and on this port, that the cable carries data, and the "
        "strapping pins (the ROM prints its banner on every reset unless its output is disabled in eFuse)"
    ),
    BootFault.NOT_STARTED: "see the board's log",
}


@dataclass(frozen=True)
class BootVerdict:
    """A failed boot: what went wrong, the board's own words for it, and what a person can do."""

    fault: BootFault
    evidence: str = ""
    detail: str = ""

    @property
    def advice(self) -> str:
        return _ADVICE[self.fault]

    def sentence(self) -> str:
        said = f" (the board said {self.evidence!r})" if self.evidence else ""
        detail = f"; {self.detail}" if self.detail else ""
        return f"{self.fault.value}{said}{detail}: {self.advice}"


_BANNER = re.compile(r"rst:0x([0-9a-fA-F]+) \(([A-Za-z0-9_]+)\)(?:,boot:0x([0-9a-fA-F]+) \(([^)]*\)?)\))?")
_DECISIVE: tuple[tuple[re.Pattern[str], BootFault], ...] = (
    (re.compile(r"waiting for download"), BootFault.DOWNLOAD_MODE),
    (re.compile(r"invalid header: 0x[0-9a-fA-F]+"), BootFault.INVALID_HEADER),
    (re.compile(r"flash read err"), BootFault.FLASH_READ),
    (re.compile(r"secure boot check fail", re.IGNORECASE), BootFault.SECURE_BOOT),
    (re.compile(r"Sig block \d+ invalid"), BootFault.SECURE_BOOT),
    (
        re.compile(r"Guru Meditation Error|abort\(\) was called at PC|\*\*\*ERROR\*\*\* A stack overflow"),
        BootFault.PANIC,
    ),
    (re.compile(r"^assert failed: |^Backtrace: ?0x"), BootFault.PANIC),
)
_CLUES: tuple[tuple[re.Pattern[str], BootFault], ...] = (
    (re.compile(r"[Ss]ecure [Bb]oot (?:V2 |signature )?verification fail"), BootFault.SECURE_BOOT),
    (
        re.compile(r"signature does not match the eFuse key digest|image valid, signature bad"),
        BootFault.SECURE_BOOT,
    ),
    (re.compile(r"has invalid magic byte|invalid header"), BootFault.INVALID_HEADER),
    (
        re.compile(
            r"Checksum fail|Image hash failed|SHA-256 comparison failed|image is corrupt|"
            r"invalid segment (?:length|count)|image corrupted on flash"
        ),
        BootFault.IMAGE_CORRUPT,
    ),
    (re.compile(r"mismatch chip ID|invalid chip id", re.IGNORECASE), BootFault.WRONG_CHIP),
    (re.compile(r"Brownout detector was triggered"), BootFault.BROWNOUT),
    (re.compile(r"Task watchdog got triggered|wdt timeout", re.IGNORECASE), BootFault.WATCHDOG),
)
_GIVES_UP = re.compile(
    r"No bootable app partitions|partition is not bootable|load partition table error|"
    r"Bootloader secure boot (?:check|setup) failed|^ets_main\.c \d+"
)
_APP_STARTED = re.compile(
    r"^[IWEDV] \(\d+\) (?:cpu_start|app_init|app_start|main_task): |Calling app_main\(\)"
)
_RESET_CAUSES = (("BROWN", BootFault.BROWNOUT), ("WDT", BootFault.WATCHDOG))


def _reset_fault(cause: str) -> BootFault:
    for word, fault in _RESET_CAUSES:
        if word in cause.upper():
            return fault
    return BootFault.BOOT_LOOP


@dataclass
class BootWatch:
    """Fed the board's lines (NULs, `\\r` and colour codes already stripped) from the reset on.

    `feed` returns a verdict the moment the output is decisive; `started` turns true when the app is
    running (its first log line or its first `IEF DATA`). The same watch can keep reading while the
    IEF runs, to catch a panic or a reset loop there too.
    """

    boots: int = 0
    started: bool = False
    talking: bool = False  # the IEF sent its marker
    lines: int = 0
    garbled: int = 0
    last_line: str = ""
    _clue: tuple[BootFault, str] | None = None
    _reset_causes: list[str] = field(default_factory=list)

    def feed(self, line: str) -> BootVerdict | None:
        text = line.strip()
        if not text:
            return None
        self.lines += 1
        self.last_line = text
        if _looks_garbled(text):
            self.garbled += 1
            return None
        if IEF_MARKER in text:
            self.started = self.talking = True
            return None
        banner = _BANNER.search(text)
        if banner is not None:
            return self._banner(text, banner)
        for pattern, fault in _DECISIVE:
            if pattern.search(text):
                return self._decide(fault, text)
        for pattern, fault in _CLUES:
            if pattern.search(text) and (self._clue is None or self._clue[0] is BootFault.WATCHDOG):
                self._clue = (fault, text)
        if _GIVES_UP.search(text):
            return self._decide(BootFault.NO_APP, text)
        if _APP_STARTED.search(text):
            self.started = True
        return None

    def _banner(self, text: str, banner: re.Match[str]) -> BootVerdict | None:
        self.boots += 1
        self.started = False
        if self.boots > 1:
            self._reset_causes.append(banner.group(2))
        boot_mode = banner.group(4) or ""
        if boot_mode.upper().startswith("DOWNLOAD"):
            return self._decide(BootFault.DOWNLOAD_MODE, text)
        if self.boots < MAX_BOOTS:
            return None
        causes = [_reset_fault(cause) for cause in self._reset_causes]
        named = (BootFault.BROWNOUT, BootFault.WATCHDOG)
        fault = next((f for f in named if f in causes), BootFault.BOOT_LOOP)
        if self._clue is not None and self._clue[0] is fault:
            text = self._clue[1]
        elif self._clue is not None and fault is BootFault.BOOT_LOOP:
            return BootVerdict(self._clue[0], self._clue[1], self._resets_detail())
        return BootVerdict(fault, text, self._resets_detail())

    def _resets_detail(self) -> str:
        causes = ", ".join(dict.fromkeys(self._reset_causes))
        return f"it reset itself {len(self._reset_causes)} times ({causes})"

    def _decide(self, fault: BootFault, text: str) -> BootVerdict:
        if fault is BootFault.NO_APP and self._clue is not None:
            return BootVerdict(self._clue[0], self._clue[1], f"then {text!r}")
        return BootVerdict(fault, text)

    def silent(self, seconds: float) -> BootVerdict:
        """Nothing at all arrived within `seconds` of the reset."""
        return BootVerdict(BootFault.SILENT, "", f"not a byte within {seconds:g} s")

    def timed_out(self, seconds: float) -> BootVerdict:
        """Output came, but the firmware did not start within `seconds`."""
        if self.lines and self.garbled * 2 >= self.lines:
            detail = (
                f"{self.garbled} of its {self.lines} lines were unreadable: a baud-rate mismatch, a noisy "
                "cable or a bad USB-UART"
            )
            return BootVerdict(BootFault.NOT_STARTED, "", f"within {seconds:g} s; {detail}")
        if self._clue is not None:
            return BootVerdict(self._clue[0], self._clue[1], f"and it did not start within {seconds:g} s")
        return BootVerdict(BootFault.NOT_STARTED, self.last_line[:120], f"not within {seconds:g} s")


def _looks_garbled(text: str) -> bool:
    """Mostly bytes no log line holds (decoded with errors="replace"): noise, or the wrong baud rate."""
    if text.isprintable() and "\ufffd" not in text:
        return False  # nearly every line: decided without looking at each character in Python
    bad = sum(1 for ch in text if ch == "\ufffd" or (not ch.isprintable() and ch != "\t"))
    return bad * 4 >= len(text)
