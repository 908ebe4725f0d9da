"""The demo's simulator process: it starts, serves its boards, and never outlives the station."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.system.paths import DataDir
from app.system.sim_registry import list_live
from app.workers.demo_simulator import AP_PASSWORD_FILENAME, DemoSimulator, DemoSimulatorError

REPO = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[DemoSimulator]:
    sim = DemoSimulator(tmp_path / "station", boards=2)
    yield sim
    sim.stop()


def test_starts_the_boards_in_a_child_process_and_stops_them(simulator: DemoSimulator) -> None:
    urls = simulator.start()
    assert len(urls) == 2 and all(u.startswith("rfc2217://127.0.0.1:") for u in urls)
    assert simulator.process is not None and simulator.process.pid != os.getpid()
    network = simulator.network
    assert network is not None and network.ssid == "ql-demo-wifi"
    password_file = simulator.data.sim_boards / AP_PASSWORD_FILENAME
    assert network.password == password_file.read_text().strip()
    assert network.password not in repr(network)
    assert sorted(e.url for e in list_live(simulator.data.sim_registry)) == sorted(urls)
    watchdog = simulator.watchdog
    assert watchdog is not None and watchdog.poll() is None

    process = simulator.process
    simulator.stop()
    assert process.poll() == 0, "the simulator ends cleanly on SIGTERM"
    assert watchdog.poll() == 0
    assert list_live(simulator.data.sim_registry) == []


def test_a_simulator_that_cannot_start_says_where_to_look(tmp_path: Path) -> None:
    sim = DemoSimulator(tmp_path / "station", boards=99)
    try:
        with pytest.raises(
            DemoSimulatorError, match=r"the demo's simulator stopped \(exit status 2\); see .*log"
        ):
            sim.start()
        assert "--boards must be between 1 and 64" in sim.log_path.read_text()
    finally:
        sim.stop()


def test_the_watchdog_ends_the_simulator_when_the_station_is_killed(tmp_path: Path) -> None:
    """A stand-in station starts the demo simulator, then dies by SIGKILL without cleaning up."""
    data = tmp_path / "station"
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from app.workers.demo_simulator import DemoSimulator
        sim = DemoSimulator(Path({str(data)!r}), boards=1)
        sim.start()
        print(sim.process.pid, sim.watchdog.pid, flush=True)
        time.sleep(600)
        """
    )
    station = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    pids: list[int] = []
    try:
        assert station.stdout is not None
        sim_pid, watchdog_pid = pids[:] = [int(x) for x in station.stdout.readline().split()]
        assert alive(sim_pid) and alive(watchdog_pid)
        assert len(list_live(DataDir(data).sim_registry)) == 1
        os.kill(station.pid, signal.SIGKILL)
        station.wait()
        assert wait_gone(sim_pid), "the watchdog terminated the orphaned simulator"
        assert wait_gone(watchdog_pid)
        assert list_live(DataDir(data).sim_registry) == [], "it ended cleanly: its boards are unregistered"
    finally:
        if station.poll() is None:
            station.kill()
            station.wait()
        for pid in pids:  # only if the test failed: nothing of it may be left running
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
