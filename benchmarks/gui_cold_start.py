"""Cold start of the station window: process start to the main window's first paint.

    .venv/bin/python benchmarks/gui_cold_start.py [--runs 5] [--platform offscreen]

Starts `python -m app gui` in a subprocess with QL_STATION_STARTUP_PROBE=1 (app/ui/startup_probe.py):
the app prints `window-shown <seconds since process start>` at its window's first paint and quits.
Two cases: a first start (empty data folder: the instance generates its PKI and simulation images) and
a warm start (the instance exists). Each child gets a temporary data folder, a file-backed test keyring
and its own XDG config folder, so no real keyring or preference is touched. Goal: <= 1.5 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_S = 1.5
MARKER = "window-shown"


def child_env(root: Path, platform: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        QL_STATION_STARTUP_PROBE="1",
        QT_QPA_PLATFORM=platform,
        XDG_CONFIG_HOME=str(root / "config"),
        PYTHON_KEYRING_BACKEND="tests.support.file_keyring.FileKeyring",
        QL_TEST_KEYRING_FILE=str(root / "keyring.json"),
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
    )
    return env


def start_once(data_dir: Path, env: dict[str, str]) -> tuple[float, float]:
    """(seconds measured by this parent, seconds the child reports since its own start)."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "app", "--data-dir", str(data_dir), "gui"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdout is not None
    reported = None
    for line in child.stdout:
        if line.startswith(MARKER):
            measured = time.perf_counter() - started
            reported = float(line.split()[1])
            break
    child.wait(timeout=60)
    if reported is None:
        raise SystemExit(f"the app exited ({child.returncode}) without printing {MARKER!r}")
    if child.returncode != 0:
        raise SystemExit(f"the app showed its window but then exited with status {child.returncode}")
    return measured, reported


def report(name: str, samples: list[tuple[float, float]]) -> float:
    outside = [s[0] for s in samples]
    inside = [s[1] for s in samples]
    median = statistics.median(outside)
    print(
        f"{name:<12} parent median {median:.3f} s  min {min(outside):.3f}  max {max(outside):.3f}   "
        f"child-reported median {statistics.median(inside):.3f} s"
    )
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--platform", default="offscreen", help="Qt platform plugin (offscreen, xcb, ...)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ql-cold-start-"))
    try:
        env = child_env(root, args.platform)
        first = []
        for run in range(args.runs):
            first.append(start_once(root / f"first-{run}", env))
        warm_dir = root / "first-0"
        warm = [start_once(warm_dir, env) for _ in range(args.runs)]
        print(f"GUI cold start, {args.runs} runs each, platform {args.platform}, goal <= {GOAL_S} s")
        worst = max(report("first start", first), report("warm start", warm))
        print(f"goal {'met' if worst <= GOAL_S else 'MISSED'}: worst median {worst:.3f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
