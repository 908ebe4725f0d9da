"""Layer rules import-linter cannot express: app/workers may use PySide6.QtCore and nothing else of Qt."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"


def qt_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("PySide6")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("PySide6"):
            found.add(node.module or "")
    return found


def test_workers_use_qtcore_only() -> None:
    files = sorted((APP / "workers").rglob("*.py"))
    assert files, "app/workers has no modules to check"
    used = {str(f.relative_to(APP)): qt_imports(f) for f in files}
    offenders = {name: mods - {"PySide6.QtCore"} for name, mods in used.items() if mods - {"PySide6.QtCore"}}
    assert offenders == {}
    assert any(mods for mods in used.values()), "no worker imports QtCore: the check would prove nothing"
