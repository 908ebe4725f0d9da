"""The cold-start probe, run the way the benchmark runs it: the real program in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from app.ui.startup_probe import ENV, MARKER, StartupProbe, seconds_since_process_start

REPO = Path(__file__).resolve().parents[2]


def test_seconds_since_process_start_is_plausible() -> None:
    seconds = seconds_since_process_start()
    assert 0 < seconds < 24 * 3600


def test_the_window_reports_its_first_paint_and_the_app_quits(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"))
    env[ENV] = "1"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(tmp_path / "home"), "gui"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    marker = [line for line in done.stdout.splitlines() if line.startswith(MARKER)]
    assert len(marker) == 1, done.stdout
    reported = float(marker[0].split()[1])
    assert 0 < reported <= elapsed + 0.05
    assert (tmp_path / "home" / "instance" / "local.sqlite3").exists(), "the window opened the real instance"


def test_the_probe_is_armed_only_by_the_variable(monkeypatch, qapp) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv(ENV, raising=False)
    assert StartupProbe.from_env() is None
    monkeypatch.setenv(ENV, "0")
    assert StartupProbe.from_env() is None
    monkeypatch.setenv(ENV, "1")
    assert isinstance(StartupProbe.from_env(), StartupProbe)
