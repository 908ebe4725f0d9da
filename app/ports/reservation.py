"""One port, one driver: a port is reserved with an OS file lock before anything talks to its board.

Two programs on one board (the station window and a `ql-station provision` in a terminal, or two
windows) would interleave esptool frames and IEF replies and leave a half-flashed board with no record.
So whoever drives a port first takes `<data folder>/ports/<port>.lock` with an exclusive, non-blocking
OS lock (`flock` on POSIX, `msvcrt.locking` on Windows). The OS drops the lock when the holder's process
dies, however it dies (SIGKILL, a crash, a pulled plug), so a reservation is never stale and there is no
timer or pid check to get wrong. After taking the lock the holder writes one JSON line naming itself
(what, pid, program, host, since), so the next one refused can be told who has the port.

The same port reserved twice in one process is refused too: `flock` belongs to an open file, so
without the in-process table a second reservation made through another file would depend on the
platform. A process that `fork`s without `exec` shares the lock with its child until both close it;
the station's port workers are started with `subprocess` (close_fds), which does not pass it on.
A data folder on a network file system may not honour the lock; keep it on a local disk.

    with reserve_port(data_dir, "rfc2217://127.0.0.1:4000", "provision"):
        ...  # drive the board
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import sys
import threading
from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType

from app.domain.errors import ConflictError
from app.system.paths import DataDir
from app.system.private_files import private_dir, storage_error

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_READABLE_CHARS = 40
_LOCK_OFFSET = 1 << 20  # Windows locks bytes: lock one far past the holder line, so it stays readable


class PortBusyError(ConflictError):
    """Another program (or another part of this one) is driving the port."""


@dataclass(frozen=True)
class PortHolder:
    """Who holds a port: what for (e.g. "provision", "station window"), and which process since when."""

    what: str
    pid: int
    program: str
    host: str
    since: str  # ISO 8601, local time with offset

    def describe(self) -> str:
        """`provision (pid 4242, since 14:03:07)`, with the host when it is another computer's."""
        where = "" if self.host == socket.gethostname() else f" on {self.host}"
        return f"{self.what} (pid {self.pid}{where}, since {_clock(self.since)})"


_held: dict[Path, PortHolder] = {}  # this process's reservations, by lock file
_held_lock = threading.Lock()


class PortReservation:
    """The lock on one port. Release it (or leave the `with` block) when the board is done with."""

    def __init__(self, port: str, path: Path, fd: int, holder: PortHolder) -> None:
        self.port = port
        self.path = path
        self.holder = holder
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Clear the holder line and drop the lock; releasing twice is harmless."""
        with _held_lock:
            fd, self._fd = self._fd, None
            if fd is None:
                return
            _held.pop(self.path, None)
        try:
            with suppress(OSError):  # a stale holder line is only a hint; the lock is what counts
                os.ftruncate(fd, 0)
            _unlock(fd)
        finally:
            os.close(fd)  # drops the lock in any case

    def __enter__(self) -> PortReservation:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "held" if self.held else "released"
        return f"PortReservation({self.port!r}, {state})"


def reserve_port(data_dir: Path, port: str, holder: str) -> PortReservation:
    """Take `port` for `holder` (what it is for, shown to whoever is refused), or raise PortBusyError.

    Never waits: a busy port is the person's to resolve (wait for the other run, or stop it).
    A lock file that cannot be made (disk full, read-only data folder) is a StorageError.
    """
    path = lock_path(data_dir, port)
    me = _this_process(holder)
    with _held_lock:
        if path in _held:
            raise _busy(port, _held[path])
        fd = _open_lock_file(path)
        try:
            locked = _try_lock(fd)
        except OSError as exc:  # e.g. no locks on a network file system
            os.close(fd)
            raise storage_error(path, exc, what="port reservation") from None
        if not locked:
            other = _read_holder(fd)
            os.close(fd)
            raise _busy(port, other)
        _held[path] = me
    try:
        _write_holder(fd, me)
    except OSError as exc:
        PortReservation(port, path, fd, me).release()
        raise storage_error(path, exc, what="port reservation") from None
    return PortReservation(port, path, fd, me)


def port_holder(data_dir: Path, port: str) -> PortHolder | None:
    """Who holds `port` now, if anyone (for a window to show); reserves nothing.

    It tests the lock by taking it for an instant, so a reservation tried in that instant is refused.
    """
    path = lock_path(data_dir, port)
    with _held_lock:
        if path in _held:
            return _held[path]
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        if _try_lock(fd):
            _unlock(fd)
            return None
        return _read_holder(fd)
    finally:
        os.close(fd)


def lock_path(data_dir: Path, port: str) -> Path:
    """`<data>/ports/<readable part>-<hash>.lock`: safe for any port string, distinct for distinct ports.

    The readable part keeps file names recognisable (`rfc2217_127.0.0.1_4000`, `dev_ttyUSB0`); the hash
    of the whole name keeps `/dev/tty.a` and `/dev/tty_a` apart. Windows port names ignore case.
    """
    key = port.strip().upper() if os.name == "nt" else port.strip()
    readable = _UNSAFE.sub("_", key).strip("._")[-_READABLE_CHARS:] or "port"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return DataDir(data_dir).port_locks / f"{readable}-{digest}.lock"


def _busy(port: str, holder: PortHolder | None) -> PortBusyError:
    who = holder.describe() if holder is not None else "another program"
    return PortBusyError(f"port {port} is in use by {who}; wait for it or stop it")


def _this_process(what: str) -> PortHolder:
    return PortHolder(
        what=what,
        pid=os.getpid(),
        program=Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python",
        host=socket.gethostname(),
        since=datetime.now().astimezone().isoformat(timespec="seconds"),
    )


def _open_lock_file(path: Path) -> int:
    private_dir(path.parent, what="port reservations folder")
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise storage_error(path, exc, what="port reservation") from None


def _write_holder(fd: int, holder: PortHolder) -> None:
    line = (json.dumps(asdict(holder)) + "\n").encode("utf-8")
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, line)


def _read_holder(fd: int) -> PortHolder | None:
    """The holder line, or None while it is being written or if it is not ours to read."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096).decode("utf-8").splitlines()[0])
        return PortHolder(**{name: data[name] for name in PortHolder.__dataclass_fields__})
    except (OSError, ValueError, IndexError, KeyError, TypeError):
        return None


def _clock(since: str) -> str:
    try:
        return datetime.fromisoformat(since).strftime("%H:%M:%S")
    except ValueError:
        return since


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _LOCK_OFFSET, os.SEEK_SET)
        with suppress(OSError):  # closing the file releases it as well
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
