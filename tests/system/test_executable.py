"""How the station starts itself again: `python -m app`, or the frozen bundle's console executable."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from app.provisioning.worker_launch import server_command, worker_command
from app.system.executable import station_command
from app.workers.demo_simulator import WATCH_SUBCOMMAND, watchdog_command

CONSOLE = "ql-station.exe" if sys.platform == "win32" else "ql-station"


def _bundle(tmp_path: Path) -> Path:
    for name in (CONSOLE, "QuarkLink Station"):
        (tmp_path / name).write_bytes(b"")
    return tmp_path


def test_from_source_it_is_python_running_the_app_package() -> None:
    assert station_command() == [sys.executable, "-m", "app"]
    assert worker_command() == [sys.executable, "-m", "app", "port-worker"]


def test_the_frozen_window_starts_children_through_the_console_executable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = _bundle(tmp_path)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(bundle / "QuarkLink Station"))
    console = str(bundle / CONSOLE)
    assert station_command() == [console]
    assert worker_command() == [console, "port-worker"]
    assert server_command() == [console, "worker-fork-server"]
    assert watchdog_command(1234) == [console, WATCH_SUBCOMMAND, "1234"]


def test_a_frozen_executable_without_its_console_sibling_runs_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lone = tmp_path / "renamed-station"
    lone.write_bytes(b"")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(lone))
    assert station_command() == [str(lone)]
