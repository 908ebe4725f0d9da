"""Cold start of the station window: process start to the main window's first paint.

    .venv/bin/python benchmarks/gui_cold_start.py [--runs 5] [--platform offscreen]
    .venv/bin/python benchmarks/gui_cold_start.py --frozen build/dist/quarklink-station   # source vs frozen

Starts `python -m app gui` in a subprocess with QL_STATION_STARTUP_PROBE=1 (app/ui/startup_probe.py):
the app prints `window-shown <seconds since process start>` at its window's first paint and quits.
Two cases: a first start (empty data folder: the instance generates its PKI and simulation images) and
a warm start (the instance exists). Each child gets a temporary data folder, a file-backed test keyring
and its own XDG config folder, so no real keyring or preference is touched. Goal: <= 1.5 s.

With `--frozen BUNDLE` (the onedir folder, or its "QuarkLink Station" executable) the frozen window is
measured too, run for run beside the source one so both see the same machine load. The frozen program
cannot import the test keyring by its dotted name, so it is given the same backend through a keyring
config file (`keyring-path`), as packaging/installer_check.py does.
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
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_S = 1.5
MARKER = "window-shown"
GUI_NAME = "QuarkLink Station"


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


def frozen_env(root: Path, platform: str) -> dict[str, str]:
    """The same isolation for the frozen program: the test keyring through keyring's config file."""
    env = {
        k: v
        for k, v in child_env(root, platform).items()
        if k not in ("PYTHONPATH", "PYTHON_KEYRING_BACKEND")
    }
    backends = root / "keyring-backends"
    backends.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / "tests" / "support" / "file_keyring.py", backends / "ql_bench_keyring.py")
    config = root / "config" / "python_keyring"
    config.mkdir(parents=True, exist_ok=True)
    (config / "keyringrc.cfg").write_text(
        f"[backend]\ndefault-keyring=ql_bench_keyring.FileKeyring\nkeyring-path={backends}\n",
        encoding="utf-8",
    )
    return env


@dataclass
class Case:
    name: str
    command: list[str]
    env: dict[str, str]
    cwd: Path
    first: list[tuple[float, float]] = field(default_factory=list)
    warm: list[tuple[float, float]] = field(default_factory=list)


def start_once(case: Case, data_dir: Path) -> tuple[float, float]:
    """(seconds measured by this parent, seconds the child reports since its own start)."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [*case.command, "--data-dir", str(data_dir), "gui"],
        cwd=case.cwd,
        env=case.env,
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
        raise SystemExit(f"{case.name}: the app exited ({child.returncode}) without printing {MARKER!r}")
    if child.returncode != 0:
        raise SystemExit(
            f"{case.name}: the app showed its window but then exited with status {child.returncode}"
        )
    return measured, reported


def report(name: str, samples: list[tuple[float, float]]) -> float:
    outside = [s[0] for s in samples]
    inside = [s[1] for s in samples]
    median = statistics.median(outside)
    print(
        f"{name:<20} parent median {median:.3f} s  min {min(outside):.3f}  max {max(outside):.3f}   "
        f"child-reported median {statistics.median(inside):.3f} s"
    )
    return median


def frozen_executable(path: Path) -> Path:
    executable = path / GUI_NAME if path.is_dir() else path
    if not executable.is_file():
        raise SystemExit(f"{executable} is not the frozen window; build it with `make installer`")
    return executable.resolve()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--platform", default="offscreen", help="Qt platform plugin (offscreen, xcb, ...)")
    parser.add_argument("--frozen", type=Path, metavar="BUNDLE", help="also measure this frozen bundle")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ql-cold-start-"))
    try:
        cases = [
            Case("source", [sys.executable, "-m", "app"], child_env(root / "source", args.platform), REPO)
        ]
        if args.frozen is not None:
            executable = frozen_executable(args.frozen)
            cases.append(Case("frozen", [str(executable)], frozen_env(root / "frozen", args.platform), root))
        for run in range(args.runs):
            for case in cases:
                case.first.append(start_once(case, root / case.name / f"first-{run}"))
        for _ in range(args.runs):
            for case in cases:
                case.warm.append(start_once(case, root / case.name / "first-0"))
        print(f"GUI cold start, {args.runs} runs each, platform {args.platform}, goal <= {GOAL_S} s")
        worst = 0.0
        for case in cases:
            worst = max(
                worst, report(f"{case.name} first", case.first), report(f"{case.name} warm", case.warm)
            )
        print(f"goal {'met' if worst <= GOAL_S else 'MISSED'}: worst median {worst:.3f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
