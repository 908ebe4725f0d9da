"""Health panels: green OK, orange "3 of 5", red DOWN, with the reason in the tooltip."""

from __future__ import annotations

import pytest

from app.domain.kinds import HealthLevel
from app.domain.records import ComponentHealth
from app.ui.style import DEGRADED, DOWN, OK
from app.ui.widgets.panels import LEVEL_TONES as TONES
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
    assert panel.value.property("tone") == TONES[health.level] and colour in panel.styleSheet()
    assert panel.toolTip() == health.detail
    assert panel.detail.text() == health.detail.split(";")[0]


def test_a_long_detail_wraps_on_the_panel_and_is_never_cut(qtbot) -> None:  # type: ignore[no-untyped-def]
    detail = "3 private keys encrypted at rest (AES-256-GCM); the key-encryption key is in the keyring"
    panel = HealthPanel("HSM")
    qtbot.addWidget(panel)
    panel.show_health(ComponentHealth("HSM", HealthLevel.OK, 3, 3, detail))
    assert panel.detail.text() == "3 private keys encrypted at rest (AES-256-GCM)", (
        "the card read “AES-256-G…”"
    )
    assert panel.detail.wordWrap()
    panel.resize(160, 200)
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.detail.height() >= panel.detail.heightForWidth(panel.detail.width())
    assert panel.toolTip() == detail
