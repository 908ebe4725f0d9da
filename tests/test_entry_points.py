"""Entry points: the window's own argument reading (no CLI import), the windowed `gui_main` of the frozen
bundle, and the demo watchdog subcommand."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.cli.main import build_parser
from app.entry import WINDOW_GLOBAL_OPTIONS, gui_main, restore_library_path, window_arguments

ROOT = Path(__file__).resolve().parents[1]


def test_the_window_takes_the_cli_global_options() -> None:
    parser = build_parser()
    globals_ = [
        option
        for action in parser._actions
        if action.option_strings and action.dest not in ("help", "version")
        for option in action.option_strings
    ]
    assert sorted(globals_) == sorted(WINDOW_GLOBAL_OPTIONS)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], (None, False, None)),
        (["gui"], (None, False, None)),
        (["--data-dir", "/d", "--user", "ann", "gui", "--demo"], ("/d", True, "ann")),
        (["--data-dir=/d"], ("/d", False, None)),
    ],
)
def test_a_window_start_is_read_without_the_cli(argv: list[str], expected: tuple[object, ...]) -> None:
    args = window_arguments(argv)
    assert args is not None
    assert (args.data_dir, args.demo, args.actor) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["batch", "list"],
        ["--version"],
        ["-h"],
        ["gui", "-h"],
        ["--demo"],
        ["--data-dir"],
        ["gui", "x"],
        ["--data-dir", "caf\udce9"],
    ],
)
def test_anything_else_goes_to_the_cli(argv: list[str]) -> None:
    assert window_arguments(argv) is None


def test_opening_the_window_imports_neither_the_cli_nor_fastapi(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from app.entry import main\n"
        f"code = main(['--data-dir', {str(tmp_path / 'station')!r}, 'gui'])\n"
        "heavy = ('app.cli.main', 'app.server.http_api', 'fastapi', 'uvicorn')\n"
        "print('loaded:', [name for name in heavy if name in sys.modules])\n"
        "sys.exit(code)\n"
    )
    env = dict(os.environ, QL_STATION_STARTUP_PROBE="1", QT_QPA_PLATFORM="offscreen")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "window-shown" in result.stdout
    assert "loaded: []" in result.stdout


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


def test_outside_programs_get_the_library_path_the_bundle_found() -> None:
    bundled = {
        "LD_LIBRARY_PATH": "/opt/quarklink-station/_internal:/usr/local/lib",
        "LD_LIBRARY_PATH_ORIG": "/usr/local/lib",
    }
    restore_library_path(bundled)
    assert bundled == {"LD_LIBRARY_PATH": "/usr/local/lib"}
    none_before = {"LD_LIBRARY_PATH": "/opt/quarklink-station/_internal", "HOME": "/home/op"}
    restore_library_path(none_before)
    assert none_before == {"HOME": "/home/op"}
