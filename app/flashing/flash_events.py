"""Typed events the flashing code reports while it works: log lines and byte progress.

They are plain frozen data so a port worker can turn them into JSON lines and the GUI into signals
without either knowing esptool. Progress is per image and overall, in bytes of the images as given
(not the compressed bytes esptool sends), so a bar means the same thing whatever the compression.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class LogLevel(Enum):
    DEBUG = "debug"
    INFO = "info"
    NOTE = "note"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class FlashLog:
    """One line esptool (or our wrapper) wrote for a person to read."""

    level: LogLevel
    text: str


@dataclass(frozen=True)
class FlashProgress:
    """Progress of image `index` (0-based) of `count`, and across all images of the write."""

    index: int
    count: int
    name: str
    offset: int
    image_done: int
    image_total: int
    overall_done: int
    overall_total: int

    @property
    def overall_fraction(self) -> float:
        return self.overall_done / self.overall_total if self.overall_total else 1.0


FlashEvent = FlashLog | FlashProgress
EventSink = Callable[[FlashEvent], None]


def discard(_event: FlashEvent) -> None:
    """The sink used when nobody listens."""
