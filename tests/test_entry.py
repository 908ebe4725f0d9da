"""The console entry point as a person runs it: a real subprocess, real exit codes, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*argv: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(data_dir), *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_python_m_app_runs_a_command(tmp_path: Path) -> None:
    result = run("batch", "create", "first", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    listing = run("batch", "list", data_dir=tmp_path)
    assert "first" in listing.stdout


def test_bad_input_exits_2_with_a_message_not_a_traceback(tmp_path: Path) -> None:
    result = run("batch", "show", "missing", data_dir=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    result = run("batch", "frobnicate", data_dir=tmp_path)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
