"""The station's own preferences (not instance data): theme, default baud, production-mode options.

Kept in QSettings under organisation "QuarkLink", application "ql-station". Tests and screenshots hand
in a QSettings on an INI file of their own, so they never read or change a person's real preferences.
`changed` tells the pages (the Station page's production mode, the theme) when a value moves.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Signal

from app.provisioning.job import DEFAULT_BAUD

ORGANISATION = "QuarkLink"
APPLICATION = "ql-station"
THEMES = ("light", "dark")
BAUD_RATES = (115200, 230400, 460800, 921600, 1500000, 2000000)

THEME = "appearance/theme"
DEFAULT_BAUD_KEY = "flashing/default_baud"
AUTO_START = "production/auto_start_on_plug_in"


class StationSettings(QObject):
    changed = Signal(str)  # the key that changed

    def __init__(self, store: QSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store if store is not None else QSettings(ORGANISATION, APPLICATION)

    @property
    def theme(self) -> str:
        value = str(self.store.value(THEME, "light"))
        return value if value in THEMES else "light"

    def set_theme(self, theme: str) -> None:
        if theme not in THEMES:
            raise ValueError(f"theme must be one of {', '.join(THEMES)}")
        self._put(THEME, theme)

    @property
    def default_baud(self) -> int:
        try:
            value = int(str(self.store.value(DEFAULT_BAUD_KEY, DEFAULT_BAUD)))
        except ValueError:
            return DEFAULT_BAUD
        return value if value in BAUD_RATES else DEFAULT_BAUD

    def set_default_baud(self, baud: int) -> None:
        if baud not in BAUD_RATES:
            raise ValueError(f"baud rate must be one of {', '.join(map(str, BAUD_RATES))}")
        self._put(DEFAULT_BAUD_KEY, baud)

    @property
    def auto_start(self) -> bool:
        """Production mode: a newly plugged board starts the selected task with no click."""
        return str(self.store.value(AUTO_START, "false")).lower() == "true"

    def set_auto_start(self, enabled: bool) -> None:
        self._put(AUTO_START, "true" if enabled else "false")

    def put(self, key: str, value: object) -> None:
        """Store a value another module owns the meaning of (the Station page's keys and sound)."""
        self._put(key, value)

    def _put(self, key: str, value: object) -> None:
        if self.store.value(key) == value or str(self.store.value(key)) == str(value):
            return
        self.store.setValue(key, value)
        self.store.sync()
        self.changed.emit(key)
