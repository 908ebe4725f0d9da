"""The demo's virtual boards: `ql-station sim` in a child process that cannot outlive the window.

The simulator runs in its own process (not threads in the GUI process) so its CPU work — pacing bytes
at the baud rate, the boards' boot and enrolment — never competes with the GUI thread for the GIL.

Two guards end it. `stop()` (called when the window closes) terminates it, then kills it if it does
not exit within a grace period. If the station itself dies without running `stop()` (killed, crashed),
a tiny watchdog process ends the simulator: the watchdog holds the read end of a pipe whose only write
end is in the station, so the station's death, however it happens, closes the pipe; the watchdog reads
end-of-file and terminates the simulator (SIGTERM, SIGKILL after a grace period). The write end is not
inherited by any other child (Python pipes are non-inheritable), so a port worker cannot keep the
simulator alive by accident. (The frozen bundle has no `-m`: there the watchdog is the console
executable's hidden `demo-simulator-watch <pid>` subcommand.)

    python -m app.workers.demo_simulator watch <simulator pid>   # the watchdog; stdin is the pipe

No Qt here: the watchdog must start fast and the GUI reaches this module through a background call.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from app.domain.errors import StationError
from app.provisioning.worker_launch import worker_environment
from app.system.executable import is_frozen, station_command
from app.system.paths import DataDir

READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 5.0
STOPPED = b"stopped\n"
SIMULATOR_NICENESS = 10
AP_PASSWORD_FILENAME = "access-point-password"  # noqa: S105 - the file `ql-station sim` writes
WATCH_SUBCOMMAND = "demo-simulator-watch"  # app/entry.py routes it here in the frozen bundle


class DemoSimulatorError(StationError):
    """The demo's simulator did not start (it says why in its log file)."""


@dataclass(frozen=True)
class SimulatedNetwork:
    ssid: str
    password: str = field(repr=False)


def app_command() -> list[str]:
    """How to run this program: the frozen bundle's console executable, or `python -m app`."""
    return station_command()


def watchdog_command(pid: int) -> list[str]:
    """The watchdog: this module run by Python, or the frozen bundle's hidden `demo-simulator-watch`."""
    if is_frozen():
        return [*station_command(), WATCH_SUBCOMMAND, str(pid)]
    return [sys.executable, "-m", "app.workers.demo_simulator", "watch", str(pid)]


class DemoSimulator:
    """Start with `start()`; `urls` and `network` are known once it returns. Always call `stop()`."""

    def __init__(
        self,
        data_dir: Path,
        boards: int = 4,
        chip: str = "esp32c3",
        ssid: str = "ql-demo-wifi",
        pacing: bool = True,
    ) -> None:
        self.data = DataDir(data_dir)
        self.boards = boards
        self.chip = chip
        self.ssid = ssid
        self.pacing = pacing
        self.urls: list[str] = []
        self.network: SimulatedNetwork | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.watchdog: subprocess.Popen[bytes] | None = None
        self._pipe: int | None = None
        self._log: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._stopped = False

    @property
    def log_path(self) -> Path:
        return self.data.logs / "demo-simulator.log"

    def command(self) -> list[str]:
        """`ql-station sim ...`, below the window's CPU priority like the port workers (see there)."""
        nice = shutil.which("nice") if os.name == "posix" else None
        return [
            *([nice, "-n", str(SIMULATOR_NICENESS)] if nice else []),
            *app_command(),
            "--data-dir",
            str(self.data.root),
            "sim",
            "--boards",
            str(self.boards),
            "--chip",
            self.chip,
            "--ap-ssid",
            self.ssid,
            *([] if self.pacing else ["--no-pacing"]),
        ]

    def start(self, timeout: float = READY_TIMEOUT_S) -> list[str]:
        """Start the simulator and its watchdog; return the boards' URLs once all are served."""
        self.data.logs.mkdir(parents=True, exist_ok=True)
        with self._lock:
            if self._stopped:
                raise DemoSimulatorError("the demo was stopped before its boards started")
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self._log,
                env=worker_environment(),
                start_new_session=os.name != "nt",
            )
            self._start_watchdog(self.process.pid)
        self.urls = self._read_urls(self.process, timeout)
        password_file = self.data.sim_boards / AP_PASSWORD_FILENAME
        try:
            password = password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise DemoSimulatorError(
                f"cannot read the simulated network's password file: {exc.strerror}"
            ) from None
        self.network = SimulatedNetwork(self.ssid, password)
        return self.urls

    def _start_watchdog(self, pid: int) -> None:
        read_end, write_end = os.pipe()
        try:
            self.watchdog = subprocess.Popen(
                watchdog_command(pid),
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=self._log,
                env=worker_environment(),
                start_new_session=os.name != "nt",
            )
        except OSError:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        self._pipe = write_end

    def _read_urls(self, process: subprocess.Popen[bytes], timeout: float) -> list[str]:
        assert process.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()
        stream = process.stdout

        def read() -> None:
            for raw in stream:
                lines.put(raw.decode("utf-8", errors="replace").strip())
            lines.put(None)

        threading.Thread(target=read, name="demo-sim-stdout", daemon=True).start()
        urls: list[str] = []
        deadline = time.monotonic() + timeout
        while len(urls) < self.boards:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise DemoSimulatorError(
                    f"the demo's virtual boards did not start within {timeout:g} s; see {self.log_path}"
                ) from None
            if line is None:
                raise DemoSimulatorError(
                    f"the demo's simulator stopped (exit status {process.wait()}); see {self.log_path}"
                )
            if "://" in line:
                urls.append(line)
        return urls

    def stop(self) -> None:
        """Terminate the simulator (SIGTERM, then SIGKILL after a grace period) and its watchdog."""
        with self._lock:
            self._stopped = True
            process, self.process = self.process, None
            pipe, self._pipe = self._pipe, None
            watchdog, self.watchdog = self.watchdog, None
        if process is not None:
            _end(process)
        if pipe is not None:
            with contextlib.suppress(OSError):
                os.write(pipe, STOPPED)  # the simulator is gone: the watchdog must not signal its old pid
            os.close(pipe)
        if watchdog is not None:
            try:
                watchdog.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                watchdog.kill()
                watchdog.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def _end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


# --- the watchdog process --------------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def watch(pid: int, stream: IO[bytes]) -> int:
    """Block until `stream` ends (the station is gone), then make sure `pid` ends too.

    The station writes `STOPPED` before letting go when it has already ended the simulator itself.
    """
    received = b""
    while chunk := stream.read(4096):
        received = (received + chunk)[-len(STOPPED) :]
    if received == STOPPED:
        return 0
    if os.name == "nt":
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)  # TerminateProcess: immediate
        return 0
    if not _alive(pid):
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return 0
    deadline = time.monotonic() + STOP_GRACE_S
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return 0


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2 or argv[0] != "watch" or not argv[1].isdigit():
        print("usage: python -m app.workers.demo_simulator watch <pid>", file=sys.stderr)
        return 2
    return watch(int(argv[1]), sys.stdin.buffer)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
