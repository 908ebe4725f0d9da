"""The entry points the frozen bundle adds: the windowed `gui_main`, and the demo watchdog subcommand."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.entry import gui_main

ROOT = Path(__file__).resolve().parents[1]


def test_the_windowed_program_survives_having_no_standard_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    # A windowed Windows executable starts with sys.stdout and sys.stderr set to None.
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    with pytest.raises(SystemExit) as stopped:
        gui_main(["--version"])  # argparse prints the version, then exits 0
    assert stopped.value.code == 0
    for stream in (sys.stdout, sys.stderr):
        assert isinstance(stream, io.TextIOWrapper) and stream.name == os.devnull
        stream.close()


@pytest.mark.skipif(os.name == "nt", reason="the watchdog's SIGTERM path is POSIX")
def test_the_demo_watchdog_subcommand_ends_the_simulator_when_the_station_goes(tmp_path: Path) -> None:
    simulator = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        watchdog = subprocess.Popen(
            [sys.executable, "-m", "app", "demo-simulator-watch", str(simulator.pid)],
            stdin=subprocess.PIPE,
            cwd=ROOT,
        )
        assert watchdog.stdin is not None
        time.sleep(0.5)
        assert simulator.poll() is None
        watchdog.stdin.close()  # the station's end of the pipe is gone: it died
        assert watchdog.wait(timeout=30) == 0
        assert simulator.wait(timeout=30) != 0  # terminated, not finished
    finally:
        if simulator.poll() is None:
            simulator.kill()
            simulator.wait()
