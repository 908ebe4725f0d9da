"""Health panels: green OK, orange "3 of 5", red DOWN, with the reason in the tooltip."""

from __future__ import annotations

import pytest

from app.domain.kinds import HealthLevel
from app.domain.records import ComponentHealth
from app.ui.style import DEGRADED, DOWN, OK
from app.ui.widgets.panels import HealthPanel


@pytest.mark.parametrize(
    ("health", "text", "colour"),
    [
        (ComponentHealth("HSM", HealthLevel.OK, 5, 5, "5 keys; all sealed"), "OK", OK),
        (ComponentHealth("IoT Hubs", HealthLevel.DEGRADED, 3, 5, "2 hubs unreachable"), "3 of 5", DEGRADED),
        (ComponentHealth("Backend", HealthLevel.DOWN, 0, 1, "no answer from the backend"), "DOWN", DOWN),
    ],
)
def test_levels(qtbot, health: ComponentHealth, text: str, colour: str) -> None:  # type: ignore[no-untyped-def]
    panel = HealthPanel(health.name)
    qtbot.addWidget(panel)
    panel.show_health(health)
    assert panel.value.text() == text
    assert colour in panel.value.styleSheet() and colour in panel.styleSheet()
    assert panel.toolTip() == health.detail
    assert panel.detail.text() == health.detail.split(";")[0]


def test_a_long_detail_is_shortened_on_the_panel_but_whole_in_the_tooltip(qtbot) -> None:  # type: ignore[no-untyped-def]
    detail = "a very long explanation of what the database is doing right now, with numbers"
    panel = HealthPanel("Database")
    qtbot.addWidget(panel)
    panel.show_health(ComponentHealth("Database", HealthLevel.OK, 1, 1, detail))
    assert panel.detail.text().endswith("…") and len(panel.detail.text()) <= 44
    assert panel.toolTip() == detail
