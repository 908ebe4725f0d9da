"""What every page has: a title, an icon name, an order, and a way to refresh from the instance."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget


class Page(QWidget):
    title = "Page"
    icon = ""
    order = 0

    def refresh(self) -> None:
        """Reload what the page shows, in the background. Called when the page becomes visible."""
