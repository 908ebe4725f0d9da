"""Port reservations between real processes: refused with the holder's name, free again once it dies."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain.errors import ConflictError
from app.ports.reservation import PortBusyError, lock_path, port_holder, reserve_port

PORT = "rfc2217://127.0.0.1:4000"

_HOLD = """
import sys
from pathlib import Path
from app.ports.reservation import reserve_port
reservation = reserve_port(Path(sys.argv[1]), sys.argv[2], "provision")
print("held", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Another process holding PORT for "provision" until it is killed or its stdin closes."""
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path), PORT], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert child.stdout is not None
    assert child.stdout.readline() == b"held\n"
    yield child
    if child.poll() is None:
        child.kill()
    child.communicate()


def test_another_process_holding_the_port_is_named(tmp_path: Path, holder: subprocess.Popen[bytes]) -> None:
    with pytest.raises(PortBusyError) as caught:
        reserve_port(tmp_path, PORT, "station window")
    message = str(caught.value)
    assert re.fullmatch(
        rf"port {re.escape(PORT)} is in use by provision \(pid {holder.pid}, since \d\d:\d\d:\d\d\); "
        "wait for it or stop it",
        message,
    ), message
    assert isinstance(caught.value, ConflictError)
    seen = port_holder(tmp_path, PORT)
    assert seen is not None and (seen.pid, seen.what) == (holder.pid, "provision")


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_a_killed_holder_frees_the_port(tmp_path: Path, holder: subprocess.Popen[bytes]) -> None:
    with pytest.raises(PortBusyError):
        reserve_port(tmp_path, PORT, "station window")
    holder.send_signal(signal.SIGKILL)
    assert holder.wait(timeout=10) == -signal.SIGKILL
    with reserve_port(tmp_path, PORT, "station window") as mine:
        assert mine.held
        assert port_holder(tmp_path, PORT) == mine.holder
    assert not mine.held


def test_a_released_port_is_free_for_another_process(tmp_path: Path) -> None:
    reservation = reserve_port(tmp_path, PORT, "station window")
    child = subprocess.run(
        [sys.executable, "-c", _HOLD, str(tmp_path), PORT], input=b"", capture_output=True, timeout=30
    )
    assert child.returncode == 1 and b"in use by station window" in child.stderr
    reservation.release()
    reservation.release()  # twice is harmless
    child = subprocess.run(
        [sys.executable, "-c", _HOLD, str(tmp_path), PORT], input=b"", capture_output=True, timeout=30
    )
    assert child.returncode == 0 and child.stdout == b"held\n", child.stderr
    assert port_holder(tmp_path, PORT) is None


def test_the_same_process_cannot_take_a_port_twice(tmp_path: Path) -> None:
    with reserve_port(tmp_path, PORT, "provision") as first:
        with pytest.raises(PortBusyError, match=rf"in use by provision \(pid {os.getpid()}, since"):
            reserve_port(tmp_path, PORT, "station window")
        with reserve_port(tmp_path, "/dev/ttyUSB0", "station window"):  # another port is fine
            pass
        assert first.held
    with reserve_port(tmp_path, PORT, "station window"):
        pass


def test_lock_files_are_safe_distinct_and_private(tmp_path: Path) -> None:
    names = ["/dev/tty.a", "/dev/tty_a", "COM3", "rfc2217://[::1]:4000", "../../etc/passwd", "", "é\x00/"]
    paths = {lock_path(tmp_path, name) for name in names}
    assert len(paths) == len(names)
    for path in paths:
        assert path.parent == tmp_path / "ports" and path.name.endswith(".lock")
        assert re.fullmatch(r"[A-Za-z0-9._-]+", path.name), path.name
    assert lock_path(tmp_path, "/dev/ttyUSB0").name.startswith("dev_ttyUSB0-")
    with reserve_port(tmp_path, "/dev/ttyUSB0", "provision") as reservation:
        if os.name == "posix":
            assert stat.S_IMODE(reservation.path.stat().st_mode) == 0o600
            assert stat.S_IMODE(reservation.path.parent.stat().st_mode) == 0o700
        line = reservation.path.read_text(encoding="utf-8")
        assert f'"pid": {os.getpid()}' in line and '"what": "provision"' in line
    assert reservation.path.read_text(encoding="utf-8") == ""  # no stale holder once released
