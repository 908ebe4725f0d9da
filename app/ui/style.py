"""The station's look: calm neutrals, one accent, large readable numbers; a light and a dark theme.

Both themes use the Fusion style so colours are the same on every OS; the dark theme also swaps the
palette, since a style sheet alone leaves native parts (menus, scroll bars) light.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory, QWidget

OK = "#2e7d32"
DEGRADED = "#ef6c00"
DOWN = "#c62828"

TONES = {
    "light": {"ok": OK, "degraded": DEGRADED, "down": DOWN},
    # The light theme's dark green and red read at under 3:1 on the dark panels; these are above 4.5:1.
    "dark": {"ok": "#6fcf73", "degraded": "#ffb04c", "down": "#ff7a7a"},
}
"""Text in a status colour (a label's `tone` property: "ok", "degraded", "down"), per theme."""
_current_theme = "light"

_COLOURS = {
    "light": {
        "window": "#ffffff",
        "text": "#1f2328",
        "muted": "#57606a",
        "panel": "#f6f8fa",
        "border": "#d0d7de",
        "base": "#ffffff",
        "alternate": "#f6f8fa",
        "banner": "#fdecea",
        "banner_text": "#8a1c1c",
        "notice": "#eef4fb",
        "notice_text": "#1f4e79",
        "offline": "#fff4e0",
        "offline_text": "#7a4300",
    },
    "dark": {
        "window": "#1b222b",
        "text": "#e6edf3",
        "muted": "#9aa7b4",
        "panel": "#232c37",
        "border": "#3a4654",
        "base": "#151b22",
        "alternate": "#1d252e",
        "banner": "#4a1f1f",
        "banner_text": "#ffd7d7",
        "notice": "#1d2f44",
        "notice_text": "#cfe3f7",
        "offline": "#4a3516",
        "offline_text": "#ffe2b0",
    },
}

_SHEET = """
QListWidget#navigation {{
    background: #1f2a36; color: #e8eef4; border: none; font-size: 14px; padding-top: 8px; outline: 0;
}}
QListWidget#navigation::item {{ padding: 9px 14px; border-left: 3px solid transparent; }}
QListWidget#navigation::item:hover {{ background: #2a3847; }}
QListWidget#navigation::item:selected {{ background: #2f6fb2; color: white; border-left: 3px solid #9cc8f5; }}
QLabel#navigationTitle {{ background: #1f2a36; color: #ffffff; font-size: 15px; font-weight: 600;
    padding: 14px 16px 4px 16px; }}
QLabel#navigationSubtitle {{ background: #1f2a36; color: #9fb3c8; font-size: 11px;
    padding: 0 16px 8px 16px; }}
QLabel#pageTitle {{ font-size: 22px; font-weight: 600; padding: 4px 0; }}
QLabel#pageSubtitle {{ color: {muted}; }}
QLabel#sectionTitle {{ font-size: 15px; font-weight: 600; padding-top: 8px; }}
QFrame#panel {{ background: {panel}; border: 1px solid {border}; border-radius: 6px; }}
QLabel#panelTitle {{ color: {muted}; font-size: 12px; }}
QLabel#panelValue {{ font-size: 24px; font-weight: 600; }}
QLabel#panelDetail {{ color: {muted}; font-size: 11px; }}
QLabel#fieldName {{ color: {muted}; }}
QLabel#mono {{ font-family: "DejaVu Sans Mono", monospace; }}
QLabel#problem {{ color: {tone_down}; }}
QLabel[tone="ok"] {{ color: {tone_ok}; }}
QLabel[tone="degraded"] {{ color: {tone_degraded}; }}
QLabel[tone="down"] {{ color: {tone_down}; }}
QLineEdit[invalid="true"], QComboBox[invalid="true"], QPlainTextEdit[invalid="true"] {{
    border: 1px solid {down}; }}
QLabel#hint {{ color: {muted}; }}
QFrame#errorBanner {{ background: {banner}; border-bottom: 1px solid {down}; }}
QFrame#errorBanner QLabel {{ color: {banner_text}; }}
QFrame#offlineBanner {{ background: {notice}; border-bottom: 1px solid {border}; }}
QFrame#offlineBanner QLabel {{ color: {notice_text}; }}
QFrame#offlineBanner[offline="true"] {{ background: {offline}; border-bottom: 1px solid {degraded}; }}
QFrame#offlineBanner QLabel[offline="true"] {{ color: {offline_text}; font-weight: 600; }}
QPushButton#primary {{ background: #2f6fb2; color: white; border: 1px solid #285f99; border-radius: 4px;
    padding: 5px 14px; }}
QPushButton#primary:disabled {{ background: #8fb1d6; border-color: #8fb1d6; }}
QStatusBar QLabel {{ padding: 0 8px; }}
"""


def style_sheet(theme: str = "light") -> str:
    colours = _COLOURS.get(theme, _COLOURS["light"])
    tones = {f"tone_{name}": colour for name, colour in TONES.get(theme, TONES["light"]).items()}
    return _SHEET.format(down=DOWN, degraded=DEGRADED, **colours, **tones)


def current_theme() -> str:
    return _current_theme


def tone(name: str) -> str:
    """The colour of text in status tone `name` in the theme now applied (for item models)."""
    return TONES[_current_theme][name]


def set_tone(label: QWidget, name: str | None) -> None:
    """Colour a label's text by status ("ok", "degraded", "down"; None: normal text) in either theme."""
    value = name or ""
    if label.property("tone") == value:
        return
    label.setProperty("tone", value)
    label.style().unpolish(label)
    label.style().polish(label)


STYLE_SHEET = style_sheet("light")


def _palette(theme: str) -> QPalette:
    colours = _COLOURS[theme]
    palette = QPalette()
    role = QPalette.ColorRole
    palette.setColor(role.Window, QColor(colours["window"]))
    palette.setColor(role.WindowText, QColor(colours["text"]))
    palette.setColor(role.Base, QColor(colours["base"]))
    palette.setColor(role.AlternateBase, QColor(colours["alternate"]))
    palette.setColor(role.Text, QColor(colours["text"]))
    palette.setColor(role.Button, QColor(colours["panel"]))
    palette.setColor(role.ButtonText, QColor(colours["text"]))
    palette.setColor(role.ToolTipBase, QColor(colours["panel"]))
    palette.setColor(role.ToolTipText, QColor(colours["text"]))
    palette.setColor(role.PlaceholderText, QColor(colours["muted"]))
    palette.setColor(role.Highlight, QColor("#2f6fb2"))
    palette.setColor(role.HighlightedText, QColor("#ffffff"))
    palette.setColor(role.Link, QColor("#4a90d9"))
    disabled = QPalette.ColorGroup.Disabled
    for item in (role.WindowText, role.Text, role.ButtonText):
        palette.setColor(disabled, item, QColor(colours["muted"]))
    return palette


def apply_theme(app: QApplication, theme: str) -> None:
    """Switch the whole application to `theme` ("light" or "dark") at once."""
    global _current_theme
    if theme not in _COLOURS:
        theme = "light"
    _current_theme = theme
    style = QStyleFactory.create("Fusion")
    if style is not None:
        app.setStyle(style)
    app.setPalette(_palette(theme))
    app.setStyleSheet(style_sheet(theme))
