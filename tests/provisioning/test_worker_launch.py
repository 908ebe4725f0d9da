"""Starting port workers: forked from the warm fork server (Linux) or as a fresh interpreter.

Real processes throughout: the fork server is `python -m app worker-fork-server`, each worker it forks
runs the real port worker. A job of `{}` is the quickest complete run: the worker refuses it with a
result event and its own exit status.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.provisioning.port_worker import EXIT_BAD_JOB
from app.provisioning.worker_launch import (
    UNKNOWN_EXIT,
    CommandLauncher,
    ForkServerLauncher,
    WorkerLauncher,
    WorkerProcess,
    fork_server_supported,
)
from app.system.session_priority import group_niceness

pytestmark = pytest.mark.skipif(not fork_server_supported(), reason="the fork server is used on Linux only")


@pytest.fixture
def fork_server() -> Iterator[ForkServerLauncher]:
    launcher = ForkServerLauncher()
    try:
        yield launcher
    finally:
        launcher.close()


def _launch(launcher: WorkerLauncher) -> tuple[WorkerProcess, tempfile._TemporaryFileWrapper[bytes]]:
    stderr = tempfile.NamedTemporaryFile()  # noqa: SIM115  (closed by each test)
    return launcher.launch(stderr), stderr


def _finish_bad_job(worker: WorkerProcess) -> list[dict[str, object]]:
    assert worker.stdin is not None and worker.stdout is not None
    worker.stdin.write(b"{}")
    worker.stdin.close()
    lines = [json.loads(line) for line in worker.stdout]
    worker.stdout.close()
    return lines


@pytest.mark.parametrize("kind", ["fork-server", "command"])
def test_either_launcher_runs_the_port_worker_with_its_streams_and_exit_status(kind: str) -> None:
    launcher: WorkerLauncher = ForkServerLauncher() if kind == "fork-server" else CommandLauncher()
    try:
        worker, stderr = _launch(launcher)
        with stderr:
            lines = _finish_bad_job(worker)
            assert worker.wait(30) == EXIT_BAD_JOB
        assert lines[-1]["type"] == "result" and lines[-1]["outcome"] == "fail"
        assert "could not read its job" in str(lines[-1]["message"])
    finally:
        launcher.close()


def _waiting_for_job(pid: int, timeout: float = 30) -> dict[str, str]:
    """The worker's open descriptors, once it has set up its streams and blocks reading its job.

    By then fd 0 is the job pipe, fd 3 the private event stream and fd 1 points at stderr (fd 2).
    """
    deadline = time.monotonic() + timeout
    while True:
        fds: dict[str, str] = {}
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(FileNotFoundError):
                fds[fd] = os.readlink(f"/proc/{pid}/fd/{fd}")
        if "3" in fds and fds.get("1") == fds.get("2") and fds.get("0", "").startswith("pipe:"):
            return fds
        assert time.monotonic() < deadline, f"worker {pid} never got to reading its job: {fds}"
        time.sleep(0.01)


def test_a_forked_worker_has_its_own_session_and_nothing_of_the_server(
    fork_server: ForkServerLauncher,
) -> None:
    first, first_err = _launch(fork_server)
    second, second_err = _launch(fork_server)
    with first_err, second_err:
        # Waiting for its job, the second worker holds stdin, the event stream (stdout, kept private on
        # fd 3) and stderr: not the server's socket, nor the first worker's pipes.
        assert set(_waiting_for_job(second.pid)) == {"0", "1", "2", "3"}
        assert os.getsid(second.pid) == second.pid  # Ctrl-C in the station's terminal is not its signal
        assert second.pid != first.pid and fork_server.server_pid not in (first.pid, second.pid)
        for worker in (first, second):
            worker.terminate()
            assert worker.wait(30) == -signal.SIGTERM
            assert worker.poll() == -signal.SIGTERM


def test_a_killed_fork_server_is_started_again_at_the_next_launch(
    fork_server: ForkServerLauncher,
) -> None:
    fork_server.wait_ready(60)
    dead = fork_server.server_pid
    assert dead is not None
    os.kill(dead, signal.SIGKILL)
    worker, stderr = _launch(fork_server)
    with stderr:
        assert _finish_bad_job(worker)[-1]["type"] == "result"
        assert worker.wait(30) == EXIT_BAD_JOB
    assert fork_server.server_pid not in (None, dead)


def test_a_fork_server_that_cannot_start_is_an_error_that_says_why() -> None:
    broken = [sys.executable, "-c", "import sys; sys.stderr.write('ImportError: no esptool\\n'); sys.exit(3)"]
    launcher = ForkServerLauncher(command=lambda: broken)
    try:
        with tempfile.TemporaryFile() as stderr, pytest.raises(OSError) as raised:
            launcher.launch(stderr)
        message = str(raised.value)
        assert "fork server stopped (it failed while importing the port worker)" in message
        assert message.endswith("exit status 3: ImportError: no esptool")
        with pytest.raises(OSError, match="exit status 3: ImportError: no esptool"):
            launcher.wait_ready(30)
    finally:
        launcher.close()


def test_a_stuck_fork_server_is_killed_and_the_launch_fails_instead_of_hanging() -> None:
    """An import that never finishes must fail each board's start with a reason, not hang every port."""
    stuck = [sys.executable, "-c", "import time; time.sleep(60)"]
    launcher = ForkServerLauncher(command=lambda: stuck, ready_seconds=0.5)
    started = time.monotonic()
    try:
        with tempfile.TemporaryFile() as stderr, pytest.raises(OSError) as raised:
            launcher.launch(stderr)
    finally:
        launcher.close()
    assert "it was not ready within 0.5 s" in str(raised.value)
    assert f"exit status {-signal.SIGKILL}" in str(raised.value)
    assert time.monotonic() - started < 10  # two attempts of 0.5 s each, then killed at once


def test_workers_outlive_a_closed_launcher_and_finish_their_job(fork_server: ForkServerLauncher) -> None:
    worker, stderr = _launch(fork_server)
    with stderr:
        _waiting_for_job(worker.pid)
        fork_server.close()
        lines = _finish_bad_job(worker)
        assert lines[-1]["type"] == "result"
        # The server has gone, so nobody is left to tell how the worker ended.
        assert worker.wait(30) == UNKNOWN_EXIT


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="no Linux autogroup scheduling here")
def test_niced_workers_are_below_the_window_also_as_a_session_group() -> None:
    """With autogroup, a session's nice value alone orders nothing against the window's session: the
    server gives its session group the niceness, and its workers stay in that session."""
    launcher = ForkServerLauncher(niceness=10)
    try:
        worker, stderr = _launch(launcher)
        with stderr:
            _waiting_for_job(worker.pid)  # past its start: its group and session are set
            group = Path(f"/proc/{worker.pid}/autogroup").read_text()
            assert group.split()[-1:] == [str(group_niceness(10))], group  # e.g. "/autogroup-123 nice 5"
            assert group_niceness(10) > 0
            assert os.getpriority(os.PRIO_PROCESS, worker.pid) >= 10
            assert os.getpgid(worker.pid) == worker.pid  # Ctrl-C in a terminal is still not its signal
            assert os.getsid(worker.pid) == launcher.server_pid  # in the server's lowered group
            worker.terminate()
            worker.wait(30)
    finally:
        launcher.close()


def test_many_launches_at_once_are_forked_in_batches_and_each_gets_its_own_worker(
    fork_server: ForkServerLauncher,
) -> None:
    """Forty ports starting together (more than one batch of requests): every launch gets a worker of
    its own, with its own streams, and each worker ends with its own exit status."""
    fork_server.wait_ready(60)
    count = 40
    started: list[tuple[WorkerProcess, tempfile._TemporaryFileWrapper[bytes]] | BaseException] = []
    lock = threading.Lock()

    def start() -> None:
        try:
            result: tuple[WorkerProcess, tempfile._TemporaryFileWrapper[bytes]] | BaseException = _launch(
                fork_server
            )
        except BaseException as error:
            result = error
        with lock:
            started.append(result)

    threads = [threading.Thread(target=start) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    errors = [r for r in started if isinstance(r, BaseException)]
    assert not errors, errors[0]
    launched = [r for r in started if not isinstance(r, BaseException)]
    assert len({worker.pid for worker, _ in launched}) == count
    for worker, stderr in launched:
        with stderr:
            assert _finish_bad_job(worker)[-1]["type"] == "result"
            assert worker.wait(30) == EXIT_BAD_JOB
