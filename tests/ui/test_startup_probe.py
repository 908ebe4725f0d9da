"""The cold-start probe, run the way the benchmark runs it: the real program in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the process's children, from /proc (Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid:
            found.append((int(entry.name), command))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_closes_the_station_the_normal_way(tmp_path: Path, signum: int) -> None:
    """SIGTERM (or Ctrl-C in the terminal) quits cleanly: exit 0, and the demo's boards and the
    station's worker fork server go with it."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"))
    env.pop(ENV, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "--data-dir", str(tmp_path / "home"), "gui", "--demo"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not any("worker-fork-server" in command for _pid, command in _children(process.pid)):
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the Station page never started its worker fork server"
            time.sleep(0.1)
        helpers = [pid for pid, _command in _children(process.pid)]
        process.send_signal(signum)
        assert process.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() and _zombie(pid) is False for pid in helpers):
            assert time.monotonic() < deadline, f"left running: {_children(process.pid)}"
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _zombie(pid: int) -> bool | None:
    try:
        return (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return None
