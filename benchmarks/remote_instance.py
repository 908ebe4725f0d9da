"""The built-in instance and the same instance served over loopback HTTPS, measured side by side.

For each: one DeviceID push (p50/p99), `list_devices` at offset 0 and 999,800, a 1,000,000-ID import,
and the dashboard summary asked again and again while that import runs (the local one from another
thread on the same instance, as the window's workers do; the remote one from a second process, as a
second station would). The remote side is a real `ql-station serve` child process, signed in to as an
administrator, so client and server do not share an interpreter.

Goals: push p99 <= 20 ms, paging at any depth <= 20 ms, the import <= 3x the local one, the dashboard
<= 200 ms during the import (local and remote).

Runs in a temporary folder in passphrase mode (no keyring at all), so it never touches a person's data:
    .venv/bin/python benchmarks/remote_instance.py [--count N] [--pushes N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import keyring
from keyring.backends import fail

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.domain.kinds import Role
from app.domain.records import PageRequest
from app.instance.api import Instance
from app.instance.local.instance import LocalInstance
from app.instance.remote.connection import Connection
from app.instance.remote.instance import RemoteInstance
from app.system.paths import DataDir

PUSH_GOAL_MS = 20.0
PAGE_GOAL_MS = 20.0
IMPORT_RATIO_GOAL = 3.0
DASHBOARD_GOAL_MS = 200.0
USER = "bench-admin"
PASSWORD = secrets.token_urlsafe(16)  # for this run only, never stored outside the temporary folder
PASSPHRASE = secrets.token_urlsafe(16)


@dataclass
class Figures:
    push_ms: list[float] = field(default_factory=list)
    page_ms: dict[int, list[float]] = field(default_factory=dict)
    import_s: float = 0.0
    dashboard_ms: list[float] = field(default_factory=list)


def _p(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _timed_ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


class ThreadPoller:
    """Asks for the dashboard again and again from a thread of this process (the window's way)."""

    def __init__(self, instance: Instance) -> None:
        self._instance = instance
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll)
        self._ms: list[float] = []

    def _poll(self) -> None:
        while not self._done.is_set():
            self._ms.append(_timed_ms(self._instance.dashboard_summary))
            time.sleep(0.01)

    def start(self) -> None:
        self._instance.dashboard_summary()  # warm: connections open, pages cached
        self._thread.start()

    def stop(self) -> list[float]:
        self._done.set()
        self._thread.join()
        return self._ms


class StationPoller:
    """The same from a process of its own: a second station, which shares nothing with the importer."""

    def __init__(self, url: str, ca_file: Path, token: str) -> None:
        self._setup = json.dumps({"url": url, "ca_file": str(ca_file), "token": token})
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, __file__, "--poll-dashboard"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(self._setup + "\n")
        self._process.stdin.flush()
        assert self._process.stdout.readline().strip() == "polling"

    def stop(self) -> list[float]:
        assert self._process is not None
        out, _ = self._process.communicate("stop\n", timeout=60)
        return [float(x) for x in json.loads(out)]


def poll_dashboard() -> int:
    """`--poll-dashboard`: the StationPoller's child. Setup on stdin (the token never in argv)."""
    setup = json.loads(sys.stdin.readline())
    connection = Connection(setup["url"], Path(setup["ca_file"]), token=setup["token"])
    with RemoteInstance(connection) as station:
        poller = ThreadPoller(station)
        poller.start()
        print("polling", flush=True)
        sys.stdin.readline()
        print(json.dumps(poller.stop()), flush=True)
    return 0


def measure(
    importer: Instance, reader: Instance, poller: ThreadPoller | StationPoller, ids: list[str], pushes: int
) -> Figures:
    figures = Figures()
    importer.create_batch("bench")
    poller.start()
    start = time.perf_counter()
    importer.add_devices("bench", ids)
    figures.import_s = time.perf_counter() - start
    figures.dashboard_ms = poller.stop()

    for offset in (0, max(len(ids) - 200, 0)):
        page = PageRequest(offset=offset, limit=200)
        reader.list_devices("bench", page)
        figures.page_ms[offset] = [
            _timed_ms(lambda page=page: reader.list_devices("bench", page))  # type: ignore[misc]
            for _ in range(100)
        ]

    importer.create_batch("pushed")
    fresh = [os.urandom(32).hex() for _ in range(pushes)]
    importer.add_devices("pushed", [os.urandom(32).hex()])  # warm
    figures.push_ms = [_timed_ms(lambda d=d: importer.add_devices("pushed", [d])) for d in fresh]  # type: ignore[misc]
    return figures


@contextmanager
def served(data_dir: Path) -> Iterator[str]:
    """A `ql-station serve` child on a free loopback port; yields its URL."""
    passphrase_file = data_dir.parent / "passphrase.txt"
    fd = os.open(passphrase_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(PASSPHRASE)
    env = dict(os.environ, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    command = [sys.executable, "-m", "app", "--data-dir", str(data_dir)]
    command += ["--passphrase-file", str(passphrase_file), "serve", "--listen", "127.0.0.1:0"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
    )
    try:
        banner = ""
        assert process.stdout is not None
        while "Stop with Ctrl-C." not in banner:
            line = process.stdout.readline()
            if not line:
                raise SystemExit(f"serve did not start: {banner}")
            banner += line
        url = re.search(r"at (https://\S+)", banner)
        assert url, banner
        yield url.group(1)
    finally:
        process.terminate()
        process.communicate(timeout=30)


def _row(label: str, local: str, remote: str, goal: str) -> None:
    print(f"{label:<34} {local:>18} {remote:>18}   {goal}")


def report(local: Figures, remote: Figures, count: int) -> None:
    print()
    _row("", "local", "remote (HTTPS)", "goal")
    for side in (local, remote):
        side.push_ms.sort()

    def pair(f: Figures) -> str:
        return f"{_p(f.push_ms, 50):.1f} / {_p(f.push_ms, 99):.1f}"

    ok = _p(local.push_ms, 99) <= PUSH_GOAL_MS and _p(remote.push_ms, 99) <= PUSH_GOAL_MS
    _row("push 1 ID p50 / p99 (ms)", pair(local), pair(remote), f"p99 <= {PUSH_GOAL_MS:.0f} ms: {_ok(ok)}")
    for offset in local.page_ms:
        lp, rp = local.page_ms[offset], remote.page_ms[offset]
        ok = max(_p(lp, 99), _p(rp, 99)) <= PAGE_GOAL_MS
        _row(
            f"list_devices @{offset:,} p50 / p99 (ms)",
            f"{_p(lp, 50):.1f} / {_p(lp, 99):.1f}",
            f"{_p(rp, 50):.1f} / {_p(rp, 99):.1f}",
            f"<= {PAGE_GOAL_MS:.0f} ms: {_ok(ok)}",
        )
    ratio = remote.import_s / local.import_s
    _row(
        f"import {count:,} IDs (s)",
        f"{local.import_s:.2f}",
        f"{remote.import_s:.2f} ({ratio:.1f}x)",
        f"<= {IMPORT_RATIO_GOAL:.0f}x local: {_ok(ratio <= IMPORT_RATIO_GOAL)}",
    )

    def dash(f: Figures) -> str:
        d = f.dashboard_ms
        return f"{_p(d, 50):.0f} / {_p(d, 99):.0f} / {max(d):.0f}"

    ok = max(local.dashboard_ms) <= DASHBOARD_GOAL_MS and max(remote.dashboard_ms) <= DASHBOARD_GOAL_MS
    _row(
        "dashboard in import p50/p99/max ms",
        dash(local),
        dash(remote),
        f"max <= {DASHBOARD_GOAL_MS:.0f} ms: {_ok(ok)}",
    )


def _ok(good: bool) -> str:
    return "ok" if good else "OVER GOAL"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="device IDs in the import")
    parser.add_argument("--pushes", type=int, default=300, help="single-ID pushes timed")
    parser.add_argument("--poll-dashboard", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.poll_dashboard:
        return poll_dashboard()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    ids = [os.urandom(32).hex() for _ in range(args.count)]

    with tempfile.TemporaryDirectory(prefix="ql-bench-remote-") as tmp:
        folder = Path(tmp)

        def prompt(_reason: str, _new: bool) -> str:
            return PASSPHRASE

        print(f"local: LocalInstance, {args.count:,} IDs ...", flush=True)
        with LocalInstance.open(folder / "local" / "instance.sqlite3", passphrase_prompt=prompt) as local:
            local_figures = measure(local, local, ThreadPoller(local), ids, args.pushes)

        data_dir = folder / "served"
        db = DataDir(data_dir).local_instance_db
        with LocalInstance.open(db, passphrase_prompt=prompt) as station:
            station.create_user(USER, PASSWORD, Role.ADMINISTRATOR)
            ca_file = folder / "root-ca.pem"
            ca_file.write_text(next(c.pem for c in station.certificates() if c.role == "root"))
        print("remote: ql-station serve over loopback HTTPS ...", flush=True)
        with served(data_dir) as url:
            importer = RemoteInstance.sign_in(url, ca_file, USER, PASSWORD)
            reader = RemoteInstance.sign_in(url, ca_file, USER, PASSWORD)
            assert reader.token is not None
            poller = StationPoller(url, ca_file, reader.token)  # a second station
            try:
                remote_figures = measure(importer, reader, poller, ids, args.pushes)
            finally:
                importer.close()
                reader.close()
    report(local_figures, remote_figures, args.count)
    counts = f"{len(local_figures.dashboard_ms)} / {len(remote_figures.dashboard_ms)}"
    print(f"(dashboard samples during the import, local / remote: {counts})")
    print(
        f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} CPUs"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
