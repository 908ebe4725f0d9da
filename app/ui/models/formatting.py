"""How records read on screen: times, counts, fingerprints. One place so every page agrees."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from PySide6.QtGui import QFont, QFontDatabase


def when(at: datetime) -> str:
    """Local time to the second; the instance stores UTC."""
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def day(at: datetime) -> str:
    return at.astimezone().strftime("%Y-%m-%d")


def count(value: int) -> str:
    return f"{value:,}"


def plural(value: int, word: str, words: str | None = None) -> str:
    """ "1 batch", "2 batches", "1,000 devices": the count and the word that agrees with it."""
    if value == 1:
        return f"{count(value)} {word}"
    return f"{count(value)} {words or (word + 'es' if word.endswith(('s', 'ch', 'sh', 'x')) else word + 's')}"


def grouped_hex(text: str, per_line: int = 8) -> str:
    """A fingerprint as `AB:CD:...` (given with or without colons), wrapped every `per_line` bytes."""
    digits = text.replace(":", "").upper()
    pairs = [digits[i : i + 2] for i in range(0, len(digits), 2)]
    lines = [":".join(pairs[i : i + per_line]) for i in range(0, len(pairs), per_line)]
    return "\n".join(lines)


def spaced_hex(text: str, group: int = 8) -> str:
    """A long hex number in groups of `group` digits, so it can wrap in a narrow card."""
    return " ".join(text[i : i + group] for i in range(0, len(text), group))


@cache
def fixed_font() -> QFont:
    """The system's fixed-width font, for DeviceIDs and digests (so equal lengths line up)."""
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
