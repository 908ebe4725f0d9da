"""Navigation icons: small monochrome SVGs in resources/icons, one per page icon name."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QIcon


def icons_folder() -> Path:
    """resources/icons beside the `app` package, or inside the frozen bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    root = Path(bundle) if bundle else Path(__file__).resolve().parents[2]
    return root / "resources" / "icons"


def load_icon(name: str) -> QIcon:
    """The icon called `name`, or an empty icon when there is none (a missing icon is not an error)."""
    path = icons_folder() / f"{name}.svg"
    return QIcon(str(path)) if name and path.is_file() else QIcon()
