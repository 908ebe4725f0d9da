"""The painted parts of a port tile: the verdict badge, the reason text and the progress strip.

They are painted rather than built from styled labels and QProgressBar because 64 tiles change in one
coalesced update: a painted part only asks for a repaint later, with the rest of the window, where a
restyled label re-polishes its style sheet and QProgressBar repaints at once inside `setValue`.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QMouseEvent, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

PROGRESS_COLOUR = "#2f6fb2"
LONG_WORD = 24
TOP_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop


def fit_lines(text: str, metrics: QFontMetrics, width: int, lines: int) -> str:
    """`text` wrapped into `width` (lines joined by newlines), cut with "…" where it needs more than
    `lines` lines.

    Lines break between words; a word longer than LONG_WORD characters (a DeviceID, a URL) is split
    rather than run off the tile. Wrapped by hand with `horizontalAdvance`: QFontMetrics.boundingRect
    with wrap flags decrements None's reference count on every call in PySide6 (its default tab array),
    which aborted the interpreter after some thousands of tile updates on Python 3.11.
    """
    words: list[str] = []
    for word in text.split():
        words += [word[i : i + LONG_WORD] for i in range(0, len(word), LONG_WORD)]
    out: list[str] = []
    line = ""
    for index, word in enumerate(words):
        candidate = f"{line} {word}" if line else word
        if not line or metrics.horizontalAdvance(candidate) <= width:
            line = candidate
            continue
        out.append(line)
        if len(out) == lines:
            rest = " ".join([out.pop(), *words[index:]])
            out.append(metrics.elidedText(rest, Qt.TextElideMode.ElideRight, width))
            return "\n".join(out)
        line = word
    if line:
        out.append(line)  # the loop returned before `out` could hold more than `lines`
    return "\n".join(out)


class VerdictBadge(QWidget):
    """A rounded block in the state's colour with the state's word in large bold letters."""

    def __init__(self) -> None:
        super().__init__()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._font = QFont(self.font())
        self._font.setBold(True)
        self.background, self.foreground, self.text = "#e8ecf0", "#3d4752", ""
        self.set_compact(False)

    def set_compact(self, compact: bool) -> None:
        self._font.setPixelSize(14 if compact else 19)
        self.setFixedHeight(24 if compact else 38)
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(120, self.height())

    def set_badge(self, background: str, foreground: str, text: str) -> None:
        if (background, foreground, text) != (self.background, self.foreground, self.text):
            self.background, self.foreground, self.text = background, foreground, text
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(self.background))
        painter.drawRoundedRect(QRectF(self.rect()), 5, 5)
        painter.setPen(QPen(QColor(self.foreground)))
        painter.setFont(self._font)
        painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.text)
        painter.end()


class ReasonText(QWidget):
    """What the board is doing or why its run ended, wrapped over a few lines so it reads without hovering.

    `full` is the whole text (the tooltip, and what a click opens); `text()` is what fits on the tile.
    A click emits `clicked` when there is more to read than the tile shows, or a log worth opening.
    """

    clicked = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._shown = ""
        self._wanted = ""
        self.full = ""
        self._lines = 2
        self._clickable = False
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.set_lines(2)

    def text(self) -> str:
        return self._shown.replace("\n", " ")

    def set_lines(self, lines: int) -> None:
        self._lines = lines
        self.setFixedHeight(self.fontMetrics().lineSpacing() * lines + 2)
        self._fit()

    def set_text(self, shown: str, full: str) -> None:
        if (shown, full) == (self._wanted, self.full):
            return
        self._wanted = shown
        self.full = full
        self.setToolTip(full)
        self._fit()

    def set_clickable(self, clickable: bool) -> None:
        if clickable != self._clickable:  # asked per snapshot: cursor() would build a QCursor each time
            self._clickable = clickable
            self.setCursor(Qt.CursorShape.PointingHandCursor if clickable else Qt.CursorShape.ArrowCursor)

    def _fit(self) -> None:
        shown = fit_lines(self._wanted, self.fontMetrics(), self.width(), self._lines)
        if shown != self._shown:
            self._shown = shown
            self.update()

    def resizeEvent(self, event: object) -> None:
        self._fit()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() is Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mouseReleaseEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        painter.drawText(self.rect(), TOP_LEFT, self._shown)
        painter.end()


class ProgressStrip(QWidget):
    """A thin progress bar that repaints later, with the rest of the window."""

    def __init__(self, maximum: int = 1000) -> None:
        super().__init__()
        self._maximum = maximum
        self._value = 0
        self._colour = PROGRESS_COLOUR
        self.setFixedHeight(8)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def value(self) -> int:
        return self._value

    def maximum(self) -> int:
        return self._maximum

    def set_colour(self, colour: str) -> None:
        if colour != self._colour:
            self._colour = colour
            self.update()

    def setValue(self, value: int) -> None:
        value = max(0, min(self._maximum, value))
        if value != self._value:
            self._value = value
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        rect = QRectF(self.rect())
        painter.setBrush(self.palette().color(QPalette.ColorRole.Mid).lighter(130))
        painter.drawRoundedRect(rect, 3, 3)
        if self._value:
            painter.setBrush(QColor(self._colour))
            painter.drawRoundedRect(
                QRectF(0, 0, rect.width() * self._value / self._maximum, rect.height()), 3, 3
            )
        painter.end()
