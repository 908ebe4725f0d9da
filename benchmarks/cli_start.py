"""Start-up of the CLI: `ql-station --version` from source and, with `--frozen`, from the bundle.

    .venv/bin/python benchmarks/cli_start.py [--runs 10] [--frozen build/dist/quarklink-station]

`--version` does nothing but start, parse and print, so it measures what every command pays before its
own work: the interpreter (or the frozen bootloader unpacking nothing, onedir) and the imports of the CLI.
Source and frozen runs alternate so both see the same machine load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def once(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([*command, "--version"], cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--frozen", type=Path, metavar="BUNDLE", help="the onedir bundle (or its ql-station)")
    args = parser.parse_args()
    cases: dict[str, tuple[list[str], Path]] = {"source": ([sys.executable, "-m", "app"], REPO)}
    if args.frozen is not None:
        executable = args.frozen / "ql-station" if args.frozen.is_dir() else args.frozen
        if not executable.is_file():
            raise SystemExit(f"{executable} is not the frozen CLI; build it with `make installer`")
        cases["frozen"] = ([str(executable.resolve())], Path(tempfile.gettempdir()))
    env = dict(os.environ, QL_STATION_HOME=tempfile.mkdtemp(prefix="ql-cli-start-"))
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, (command, cwd) in cases.items():
            samples[name].append(once(command, cwd, env))
    print(f"ql-station --version, {args.runs} runs each (wall time of the whole process)")
    for name, times in samples.items():
        print(
            f"{name:<8} median {statistics.median(times):.3f} s  min {min(times):.3f}  max {max(times):.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
