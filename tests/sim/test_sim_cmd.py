"""`ql-station sim`: URLs on stdout, registered boards, a clean stop on SIGTERM, clear errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.system import sim_registry
from app.system.paths import DataDir
from tests.sim.sim_host import esptool_session

STANDALONE = "import sys; from app.cli.sim_cmd import standalone; sys.exit(standalone(sys.argv[1:]))"


def _start(data_dir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", STANDALONE, "--data-dir", str(data_dir), "sim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read_urls(proc: subprocess.Popen[str], count: int) -> list[str]:
    assert proc.stdout is not None
    urls = []
    deadline = time.monotonic() + 20
    while len(urls) < count and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        urls.append(line.strip())
    return urls


def test_serves_registers_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path / "station")
    password_file = tmp_path / "ap-password"
    password_file.write_text("correct horse battery\n", encoding="utf-8")
    proc = _start(
        data_dir.root, "--boards", "2", "--chip", "ESP32-S3", "--no-pacing", "--ap-ssid", "lab-net",
        "--ap-password-file", str(password_file),
    )  # fmt: skip
    try:
        urls = _read_urls(proc, 2)
        assert len(urls) == 2 and all(u.startswith("rfc2217://127.0.0.1:") for u in urls)
        entries = sim_registry.list_live(data_dir.sim_registry)
        assert [(e.url, e.chip, e.pid) for e in entries] == [(u, "esp32s3", proc.pid) for u in urls]
        with esptool_session(urls[1]) as esp:
            assert esp.CHIP_NAME == "ESP32-S3"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _, err = proc.communicate()
    assert "SSID 'lab-net'" in err
    assert "correct horse battery" not in err
    assert sim_registry.list_live(data_dir.sim_registry) == []
    assert not list(data_dir.sim_registry.glob("*.json"))
    assert (data_dir.sim_boards / "sim-2" / "flash.bin").exists()


def test_generated_password_goes_to_an_owner_only_file(tmp_path: Path) -> None:
    state = tmp_path / "boards"
    proc = _start(tmp_path / "station", "--no-pacing", "--state-dir", str(state))
    try:
        assert len(_read_urls(proc, 1)) == 1
        password_file = state / "access-point-password"
        assert password_file.exists()
        if os.name == "posix":
            assert password_file.stat().st_mode & 0o077 == 0
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _, err = proc.communicate()
    assert password_file.read_text(encoding="utf-8").strip() not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--chip", "esp99"],
            "error: unknown device type 'esp99'; known types: esp32, esp32c3, esp32s2, esp32s3",
        ),
        (["--boards", "0"], "error: --boards must be between 1 and 64; got 0"),
        (["--ap-ssid", "x" * 33], "error: --ap-ssid must be 1 to 32 bytes"),
        (["--ap-password-file", "/nonexistent/pw"], "error: cannot read --ap-password-file /nonexistent/pw"),
        (["--usb-id", "cp2102"], "argument --usb-id: 'cp2102' is not VID:PID in hex"),
        (["--usb-id", "10c4:1ea60"], "a USB VID and PID are 4 hex digits each"),
        (["--boot-failure", "gremlins"], "argument --boot-failure: invalid choice: 'gremlins'"),
        (["--max-baud", "-5"], "error: --max-baud must be a positive rate; got -5"),
    ],
)
def test_bad_input_is_refused_with_a_reason(tmp_path: Path, args: list[str], message: str) -> None:
    proc = _start(tmp_path / "station", *args)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert message in err
    assert out == ""


def test_boards_are_listed_behind_their_usb_bridge_with_their_faults(tmp_path: Path) -> None:
    from app.ports.discovery import list_virtual_boards

    data_dir = DataDir(tmp_path / "station")
    proc = _start(
        data_dir.root, "--no-pacing", "--usb-id", "1a86:7523", "--max-baud", "921600",
        "--boot-failure", "panic",
    )  # fmt: skip
    try:
        assert len(_read_urls(proc, 1)) == 1
        (port,) = list_virtual_boards(data_dir.sim_registry)
        assert (port.vid, port.pid) == (0x1A86, 0x7523)
        assert port.bridge is not None and port.bridge.product == "CH340"
        assert "behind a WCH CH340" in port.description
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    proc.communicate()
