"""How the supervisor starts a port worker: a fresh interpreter per board, or a fork of a warm one.

Either way each board gets its own process, reading its job on stdin and writing events on stdout (see
app/provisioning/port_worker.py); only the cost of starting differs.

- `CommandLauncher` runs `python -m app port-worker` (or the frozen console executable's) for every
  board. Each start imports esptool again, ~0.25 CPU-s.
- `ForkServerLauncher` starts one `worker-fork-server` (app/provisioning/fork_server.py) that has
  imported everything once, and asks it to fork a worker per board: a few milliseconds each. Used on
  Linux; macOS system libraries are not fork-safe and Windows has no fork, so there the command is used.

`default_launcher()` picks. Both hand back a `WorkerProcess`, the part of `subprocess.Popen` the
supervisor uses.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

from app.provisioning.fork_server import PID, READY, REQUEST
from app.system.executable import station_command
from app.system.readiness import readable

SERVER_EXIT_SECONDS = 5.0
READY_SECONDS = 60.0  # importing the worker takes ~0.2 s; a server silent this long is stuck
REPLY_SECONDS = 10.0  # a fork takes milliseconds
MAX_BATCH = 16  # fork requests sent before their answers are read (4 descriptors each in flight)
UNKNOWN_EXIT = 255  # the fork server vanished before it could say how a worker ended
STDERR_TAIL_CHARS = 2000


class WorkerProcess(Protocol):
    pid: int
    stdin: IO[bytes] | None
    stdout: IO[bytes] | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...  # subprocess.TimeoutExpired on timeout

    def terminate(self) -> None: ...

    def kill(self) -> None: ...


class WorkerLauncher(Protocol):
    def start(self) -> None:
        """Get ready to launch (may start a helper process); cheap and non-blocking."""

    def launch(self, stderr: IO[bytes]) -> WorkerProcess:
        """Start one worker whose stderr goes to `stderr`. Raises OSError when it cannot."""

    def close(self) -> None:
        """Stop any helper process; workers already started run on."""


def program() -> list[str]:
    """This program: the frozen bundle's console executable, or Python running the `app` package."""
    return station_command()


def worker_command() -> list[str]:
    """How to start a port worker on its own: the `port-worker` subcommand of this program."""
    return [*program(), "port-worker"]


def server_command() -> list[str]:
    """How to start the fork server: the hidden `worker-fork-server` subcommand of this program."""
    return [*program(), "worker-fork-server"]


def worker_environment() -> dict[str, str]:
    """The station's environment, with this copy of the app importable from any working folder."""
    env = dict(os.environ)
    if not getattr(sys, "frozen", False):
        root = str(Path(__file__).resolve().parents[2])
        parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if root not in parts:
            env["PYTHONPATH"] = os.pathsep.join([root, *parts])
    env["PYTHONUNBUFFERED"] = "1"
    return env


# Workers get their own process group: Ctrl-C reaches the station only, which then cancels them.
# On Windows the console executable started from the windowed GUI would open a console window each.
_NEW_PROCESS_GROUP: int = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0) | getattr(
    subprocess, "CREATE_NO_WINDOW", 0
)


class CommandLauncher:
    """A new interpreter per worker: `command()` (by default `worker_command`), optionally `nice`d."""

    def __init__(self, command: Callable[[], list[str]] | None = None, niceness: int = 0) -> None:
        self._command = command or worker_command
        self._niceness = niceness

    def start(self) -> None:
        pass

    def launch(self, stderr: IO[bytes]) -> WorkerProcess:
        command = self._command()
        nice = shutil.which("nice") if self._niceness and os.name == "posix" else None
        if nice:
            command = [nice, "-n", str(self._niceness), *command]  # nice execs: the pid is the worker's
        return subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=worker_environment(),
            start_new_session=os.name != "nt",
            creationflags=_NEW_PROCESS_GROUP,
        )

    def close(self) -> None:
        pass


class ForkedWorker:
    """A worker forked by the fork server; it is the server's child, so its exit status comes by pipe."""

    def __init__(self, pid: int, stdin: IO[bytes], stdout: IO[bytes], status_fd: int) -> None:
        self.pid = pid
        self.stdin: IO[bytes] | None = stdin
        self.stdout: IO[bytes] | None = stdout
        self.returncode: int | None = None
        self._status_known = False  # False also when the server vanished without saying how it ended
        self._status_fd = status_fd
        self._lock = threading.Lock()

    def poll(self) -> int | None:
        return self._collect(0.0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._collect(timeout)
        if code is None:
            raise subprocess.TimeoutExpired(f"port worker {self.pid}", timeout or 0.0)
        return code

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, signum: int) -> None:
        self.poll()
        if not self._status_known:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def _collect(self, timeout: float | None) -> int | None:
        with self._lock:
            if self.returncode is not None:
                return self.returncode
            if not readable(self._status_fd, timeout):
                return None
            data = b""
            while len(data) < PID.size:
                chunk = os.read(self._status_fd, PID.size - len(data))
                if not chunk:
                    break
                data += chunk
            os.close(self._status_fd)
            self._status_known = len(data) == PID.size
            self.returncode = PID.unpack(data)[0] if self._status_known else UNKNOWN_EXIT
            return self.returncode

    def __del__(self) -> None:
        if self.returncode is None:
            with contextlib.suppress(OSError):
                os.close(self._status_fd)


class ForkServerLauncher:
    """One warm fork server per station; a worker per request, forked in a few milliseconds.

    The server is started by `start()` (or the first launch) and imports esptool while the station goes
    on; the first launch waits for it. If the server has died, the next launch starts a new one.
    """

    def __init__(
        self,
        niceness: int = 0,
        command: Callable[[], list[str]] | None = None,
        ready_seconds: float = READY_SECONDS,
    ) -> None:
        """`command` starts the server (by default `server_command`); it gets the socket's descriptor.
        A server not ready within `ready_seconds`, or slow to answer a request, is killed: a stuck
        import must fail each board's start with a reason, not hang every port."""
        self._niceness = niceness
        self._command = command or server_command
        self._ready_seconds = ready_seconds
        self._lock = threading.Lock()  # held while talking to the server
        self._queue_lock = threading.Lock()
        self._queue: list[_Ticket] = []  # requests not sent yet
        self._server: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._stderr: IO[bytes] | None = None
        self._ready = False

    def start(self) -> None:
        with self._lock:
            self._ensure_server()

    @property
    def server_pid(self) -> int | None:
        """The fork server's pid while it runs (its children are the workers)."""
        server = self._server
        return None if server is None else server.pid

    def wait_ready(self, timeout: float) -> None:
        """Block until the server has imported the worker (benchmarks, tests). OSError if it failed."""
        with self._lock:
            control = self._ensure_server()
            if not readable(control.fileno(), timeout):
                raise TimeoutError(f"the worker fork server was not ready within {timeout:g} s")
            try:
                self._await_ready(control)
            except OSError as error:
                why = self._stop_server(kill=True)
                raise OSError(f"the worker fork server stopped ({error}): {why}") from None

    def launch(self, stderr: IO[bytes]) -> WorkerProcess:
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        status_r, status_w = os.pipe()
        try:
            pid = self._request([stdin_r, stdout_w, stderr.fileno(), status_w])
        except BaseException:
            for fd in (stdin_w, stdout_r, status_r):
                os.close(fd)
            raise
        finally:
            for fd in (stdin_r, stdout_w, status_w):
                os.close(fd)
        return ForkedWorker(pid, open(stdin_w, "wb"), open(stdout_r, "rb"), status_r)

    def _request(self, fds: list[int]) -> int:
        """One fork, in a batch with every other launch waiting meanwhile.

        Starting 64 boards, each port's thread used to wait for the server's answer before the next
        could ask: 64 round trips, each waiting for a CPU among the workers already running, spread the
        starts over most of a second. Now whoever holds the connection sends every request queued so
        far, then reads their answers; the server forks them back to back.
        """
        ticket = _Ticket(fds)
        with self._queue_lock:
            self._queue.append(ticket)
        with self._lock:
            while not ticket.answered:  # in order: batches ahead of ours go first
                with self._queue_lock:
                    batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                try:
                    self._serve(batch)
                except OSError as error:  # the server could not be started: nobody in the batch gets one
                    for waiting in batch:
                        if not waiting.answered:
                            waiting.fail(error)
        return ticket.pid()

    def close(self) -> None:
        with self._lock:
            self._stop_server()

    # --- the server ------------------------------------------------------------------------------
    def _serve(self, batch: list[_Ticket]) -> None:
        """Send the batch's requests, then read their answers in order; a dead server is restarted
        once for the requests it had not answered. Called with `_lock` held."""
        waiting = batch
        for attempt in range(2):
            control = self._ensure_server()
            problem = "it closed the connection"
            try:
                self._await_ready(control)
                control.settimeout(REPLY_SECONDS)
                for ticket in waiting:
                    socket.send_fds(control, [REQUEST], ticket.fds)
                while waiting:
                    answer = _receive_exactly(control, PID.size)
                    if len(answer) != PID.size:
                        break
                    waiting[0].answer(PID.unpack(answer)[0])
                    waiting = waiting[1:]
            except OSError as error:
                problem = str(error)
            if not waiting:
                return
            why = self._stop_server(kill=True)
            if attempt:
                for ticket in waiting:
                    ticket.fail(OSError(f"the worker fork server stopped ({problem}): {why}"))

    def _await_ready(self, control: socket.socket) -> None:
        if self._ready:
            return
        control.settimeout(self._ready_seconds)
        try:
            ready = _receive_exactly(control, len(READY))
        except TimeoutError:
            raise OSError(f"it was not ready within {self._ready_seconds:g} s") from None
        if ready != READY:
            raise OSError("it failed while importing the port worker")
        self._ready = True

    def _ensure_server(self) -> socket.socket:
        if self._control is not None and self._server is not None and self._server.poll() is None:
            return self._control
        self._stop_server()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the server)
        try:
            command = [*self._command(), "--control-fd", str(theirs.fileno())]
            if self._niceness:
                command += ["--niceness", str(self._niceness)]
            self._server = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,
                env=worker_environment(),
                pass_fds=[theirs.fileno()],
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._control = ours
        return ours

    def _stop_server(self, kill: bool = False) -> str:
        """Close the socket (the server's cue to exit), reap the server; say how it ended.
        `kill`: it failed us, so it gets no time to finish."""
        control, server, stderr = self._control, self._server, self._stderr
        self._control = self._server = self._stderr = None
        self._ready = False
        if control is not None:
            control.close()
        code: int | None = None
        if server is not None:
            if kill and server.poll() is None:
                server.kill()
            try:
                code = server.wait(timeout=SERVER_EXIT_SECONDS)
            except subprocess.TimeoutExpired:
                server.kill()
                code = server.wait()
        tail = ""
        if stderr is not None:
            with contextlib.suppress(OSError):
                stderr.seek(0)
                tail = stderr.read()[-STDERR_TAIL_CHARS:].decode("utf-8", errors="replace").strip()
            stderr.close()
        status = f"exit status {code}"
        return f"{status}: {tail.splitlines()[-1]}" if tail else status


class _Ticket:
    """One launch's request in a batch: its descriptors, then the server's answer or the failure."""

    def __init__(self, fds: list[int]) -> None:
        self.fds = fds
        self.answered = False
        self._pid = 0
        self._error: OSError | None = None

    def answer(self, pid: int) -> None:
        if pid <= 0:
            self.fail(OSError(-pid, f"the fork server could not fork: {os.strerror(-pid)}"))
            return
        self._pid, self.answered = pid, True

    def fail(self, error: OSError) -> None:
        self._error, self.answered = error, True

    def pid(self) -> int:
        """The worker's pid; called once answered (`_request` serves batches until it is)."""
        if self._error is not None:
            raise self._error
        return self._pid


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def fork_server_supported() -> bool:
    """Linux: a fork of a Python process is safe and cheap there. The frozen onedir bundle runs its
    program in the executable's own process (no unpacking parent), so its fork server is the same."""
    return sys.platform.startswith("linux")


def default_launcher(niceness: int = 0) -> WorkerLauncher:
    """The fork server where it is supported, a new interpreter per worker elsewhere."""
    if fork_server_supported():
        return ForkServerLauncher(niceness)
    return CommandLauncher(niceness=niceness)
