"""The built-in instance and the same instance served over loopback HTTPS, measured side by side.

For each: one DeviceID push (p50/p99), `list_devices` at offset 0 and 999,800, a 1,000,000-ID import,
and the dashboard summary asked again and again while that import runs (the local one from another
thread on the same instance, as the window's workers do; the remote one from a second client, as a
second station would). The remote side is a real `ql-station serve` child process, signed in to as an
administrator, so client and server do not share an interpreter.

Goals: push p99 <= 20 ms, paging at any depth <= 20 ms, the import <= 3x the local one, the dashboard
<= 200 ms during the import (local and remote).

Runs in a temporary folder in passphrase mode (no keyring at all), so it never touches a person's data:
    .venv/bin/python benchmarks/remote_instance.py [--count N] [--pushes N]
"""

from __future__ import annotations

import argparse
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


def measure(importer: Instance, reader: Instance, ids: list[str], pushes: int) -> Figures:
    figures = Figures()
    importer.create_batch("bench")
    done = threading.Event()

    def import_all() -> None:
        start = time.perf_counter()
        try:
            importer.add_devices("bench", ids)
        finally:
            figures.import_s = time.perf_counter() - start
            done.set()

    worker = threading.Thread(target=import_all)
    reader.dashboard_summary()  # warm: connections open, pages cached
    worker.start()
    while not done.is_set():
        figures.dashboard_ms.append(_timed_ms(reader.dashboard_summary))
        time.sleep(0.01)
    worker.join()

    for offset in (0, max(len(ids) - 200, 0)):
        page = PageRequest(offset=offset, limit=200)
        reader.list_devices("bench", page)
        figures.page_ms[offset] = [
            _timed_ms(lambda page=page: reader.list_devices("bench", page))  # type: ignore[misc]
            for _ in range(30)
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
    args = parser.parse_args()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    ids = [os.urandom(32).hex() for _ in range(args.count)]

    with tempfile.TemporaryDirectory(prefix="ql-bench-remote-") as tmp:
        folder = Path(tmp)

        def prompt(_reason: str, _new: bool) -> str:
            return PASSPHRASE

        print(f"local: LocalInstance, {args.count:,} IDs ...", flush=True)
        with LocalInstance.open(folder / "local" / "instance.sqlite3", passphrase_prompt=prompt) as local:
            local_figures = measure(local, local, ids, args.pushes)

        data_dir = folder / "served"
        db = DataDir(data_dir).local_instance_db
        with LocalInstance.open(db, passphrase_prompt=prompt) as station:
            station.create_user(USER, PASSWORD, Role.ADMINISTRATOR)
            ca_file = folder / "root-ca.pem"
            ca_file.write_text(next(c.pem for c in station.certificates() if c.role == "root"))
        print("remote: ql-station serve over loopback HTTPS ...", flush=True)
        with served(data_dir) as url:
            importer = RemoteInstance.sign_in(url, ca_file, USER, PASSWORD)
            reader = RemoteInstance.sign_in(url, ca_file, USER, PASSWORD)  # a second station
            try:
                remote_figures = measure(importer, reader, ids, args.pushes)
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
