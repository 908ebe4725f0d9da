"""Dashboard panels: a figure with its name, and a health panel coloured by its level."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout

from app.domain.kinds import HealthLevel
from app.domain.records import ComponentHealth
from app.ui.style import DEGRADED, DOWN, OK, set_tone

LEVEL_COLOURS = {HealthLevel.OK: OK, HealthLevel.DEGRADED: DEGRADED, HealthLevel.DOWN: DOWN}
LEVEL_TONES = {HealthLevel.OK: "ok", HealthLevel.DEGRADED: "degraded", HealthLevel.DOWN: "down"}


class StatPanel(QFrame):
    def __init__(self, title: str, detail: str = "") -> None:
        super().__init__()
        self.setObjectName("panel")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(2)
        self.title = QLabel(title)
        self.title.setObjectName("panelTitle")
        self.value = QLabel("—")
        self.value.setObjectName("panelValue")
        self.detail = QLabel(detail)
        self.detail.setObjectName("panelDetail")
        self.detail.setWordWrap(True)  # a narrow window wraps a detail; it never cuts it off
        layout.addWidget(self.title)
        layout.addWidget(self.value)
        layout.addWidget(self.detail)

    def set_value(self, text: str) -> None:
        self.value.setText(text)


class HealthPanel(StatPanel):
    """Green "OK", orange "3 of 5" or red "DOWN"; the tooltip says why."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.level: HealthLevel | None = None

    def show_health(self, health: ComponentHealth) -> None:
        self.level = health.level
        text = health.label if health.level is HealthLevel.DEGRADED else health.level.value.upper()
        colour = LEVEL_COLOURS[health.level]
        self.value.setText(text)
        set_tone(self.value, LEVEL_TONES[health.level])
        self.setStyleSheet(f"QFrame#panel {{ border-left: 5px solid {colour}; }}")
        self.detail.setText(first_clause(health.detail))
        self.setToolTip(health.detail)


def first_clause(text: str) -> str:
    """The detail up to its first ";" in full (wrapped by the label, not cut); the rest is in the tooltip."""
    return text.split(";")[0].strip()
