"""`python -m app worker-fork-server`: a pre-warmed parent that forks one port worker per request.

A port worker spends most of its start importing esptool (with rich and click), pyserial and our
pipeline: about 0.25 CPU-s each, so 32 boards started together queue ~8 CPU-s on a 2-core station
before the first byte is flashed (benchmarks/provision_parallel.py). This server imports all of it once,
then forks. Every board still gets its own process, with its own stdin, stdout and stderr, so the port
worker is the same program whichever way it was started.

The station talks to the server over one Unix socket (app.provisioning.worker_launch is the other end):
the server first sends one byte when its imports are done; then each request carries four file
descriptors (SCM_RIGHTS) — the worker's stdin, stdout, stderr and a
status pipe — and the answer is the child's pid as a signed 32-bit integer (minus errno when fork
failed). The server reaps its children and writes each one's exit status (Popen's convention: negative
for a signal) to that child's status pipe, then closes it.

The server is single-threaded on purpose: fork copies only the calling thread, so there must be no other
thread holding a lock at that moment. It ignores Ctrl-C (the station cancels its boards itself) and
ends when the station closes the socket; running workers finish on their own.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import socket
import struct
import sys
import traceback
from typing import NoReturn

from app.system.session_priority import group_niceness, lower_session_group, session_leader

PID = struct.Struct("<i")
FDS_PER_REQUEST = 4  # stdin, stdout, stderr, exit status
REQUEST = b"L"
READY = b"R"  # sent once, when the preload is done: the station can tell "still importing" from "broken"


def main(argv: list[str]) -> int:
    """Entry from `app.entry`: `worker-fork-server --control-fd N [--niceness K]`."""
    import argparse

    parser = argparse.ArgumentParser(prog="ql-station worker-fork-server", description="internal")
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--niceness", type=int, default=0)
    args = parser.parse_args(argv)
    return serve(args.control_fd, args.niceness)


def preload() -> None:
    """Import what every port worker needs, in the order the worker itself would."""
    from app.provisioning import port_worker

    port_worker.preload()


def serve(control_fd: int, niceness: int = 0) -> int:
    """Answer fork requests on `control_fd` until the station closes it."""
    # A niced server (the window's) keeps its workers in its own session and lowers that session's
    # scheduling group once (Linux autogroup: a worker's nice value alone weighs nothing against the
    # window's session). An un-niced one (the CLI's, whose run is the machine's job) gives each worker
    # a session of its own, as a terminal's jobs have.
    shared_session = niceness > 0
    if niceness:
        os.nice(niceness)  # inherited by every worker: they mostly wait on their port
        if session_leader():
            lower_session_group(group_niceness(niceness))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    preload()
    gc.freeze()  # the preloaded objects stay in shared pages instead of being copied by each child's GC
    control = socket.socket(fileno=control_fd)
    control.sendall(READY)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)  # a handler, so the wakeup fd is written
    status_pipes: dict[int, int] = {}
    poller = select.poll()
    poller.register(control, select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    try:
        while True:
            ready = {fd for fd, _events in poller.poll()}
            if wake_r in ready:
                os.read(wake_r, 4096)
                _reap(status_pipes)
            if control.fileno() in ready and not _answer(
                control, status_pipes, (wake_r, wake_w), shared_session
            ):
                return 0
    finally:
        signal.set_wakeup_fd(-1)
        _reap(status_pipes)


def _answer(
    control: socket.socket, status_pipes: dict[int, int], own_fds: tuple[int, int], shared_session: bool
) -> bool:
    """Serve one request; False when the station has gone."""
    try:
        message, fds, _flags, _addr = socket.recv_fds(control, 16, FDS_PER_REQUEST)
    except OSError:
        return False
    if not message:
        return False
    if message != REQUEST or len(fds) != FDS_PER_REQUEST:
        for fd in fds:
            os.close(fd)
        control.sendall(PID.pack(-22))  # EINVAL: a malformed request gets an answer, not a hang
        return True
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError as error:
        for fd in fds:
            os.close(fd)
        control.sendall(PID.pack(-(error.errno or 12)))
        return True
    if pid == 0:
        _become_worker(fds, [control.fileno(), *own_fds, *status_pipes.values()], shared_session)
    for fd in fds[:3]:
        os.close(fd)
    status_pipes[pid] = fds[3]
    control.sendall(PID.pack(pid))
    return True


def _reap(status_pipes: dict[int, int]) -> None:
    while status_pipes:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        fd = status_pipes.pop(pid, None)
        if fd is None:
            continue
        try:
            os.write(fd, PID.pack(os.waitstatus_to_exitcode(status)))
        except OSError:
            pass  # the station stopped listening to this worker
        finally:
            os.close(fd)


def _become_worker(fds: list[int], server_fds: list[int], shared_session: bool) -> NoReturn:
    """In the child: drop the server's state, take the request's descriptors as 0, 1, 2, run one job."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        # Either way Ctrl-C in a terminal is not its signal (the server's session has no terminal).
        if shared_session:
            os.setpgid(0, 0)  # its own process group, in the server's lowered CPU priority group
        else:
            os.setsid()
        for fd in [*server_fds, fds[3]]:
            os.close(fd)  # the status pipe is written by the server alone, once the worker has gone
        for target, fd in enumerate(fds[:3]):
            os.dup2(fd, target)
            os.close(fd)
        from app.provisioning import port_worker

        code = port_worker.main()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)
