"""The fault matrix: every pipeline step x fault x N trials on virtual boards, as a table.

    .venv/bin/python benchmarks/fault_matrix.py [--trials 4] [--short] [--only FAULT] [--json FILE]
    make fault-matrix

Columns: trials, correct outcomes, crashes, lost DeviceIDs, records inconsistent with the batch or the
journal, and retries that passed once the fault was gone (what each means: tests/provisioning/
fault_matrix.py). The goal is 0 crashes, 0 lost IDs, 0 inconsistent records and every retry passing;
the exit status is 1 when any cell misses it. The disk-full cell mounts a small tmpfs and needs root.

It runs with its own station folder and a throwaway file keyring, never a person's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4, help="boards per cell (default 4)")
    parser.add_argument("--short", action="store_true", help="one cell per kind of fault")
    parser.add_argument("--only", metavar="FAULT", help="only the cells of this fault (e.g. vanish)")
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the results as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fault-matrix-") as folder:
        work = Path(folder)
        _isolate(work)
        from tests.provisioning import fault_matrix as fm

        cells = fm.short_matrix() if args.short else fm.full_matrix()
        if args.only:
            cells = [c for c in cells if c.fault == args.only]
        station = fm.prepare_station(work / "station")
        results = []
        started = time.monotonic()
        for index, cell in enumerate(cells):
            result = fm.run_cell(station, cell, args.trials, work / f"cell-{index}")
            results.append(result)
            verdict = "ok" if result.clean else "MISSED: " + "; ".join(result.notes[:3])
            print(f"[{index + 1}/{len(cells)}] {cell.name}: {verdict}", flush=True)
        print()
        print(fm.table(results))
        trials = sum(r.trials for r in results)
        print(f"\n{len(cells)} cells, {trials} trials in {time.monotonic() - started:.0f} s")
        if args.json is not None:
            args.json.write_text(fm.as_json(results), encoding="utf-8")
    return 0 if all(r.clean for r in results) else 1


def _isolate(work: Path) -> None:
    """A station home and a file keyring of this run's own, for this process and the CLI it starts."""
    import keyring

    from tests.support.file_keyring import DOTTED_NAME, ENV_FILE, FileKeyring

    os.environ["QL_STATION_HOME"] = str(work / "home")
    os.environ[ENV_FILE] = str(work / "keyring.json")
    os.environ["PYTHON_KEYRING_BACKEND"] = DOTTED_NAME
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    keyring.set_keyring(FileKeyring(work / "keyring.json"))


if __name__ == "__main__":
    raise SystemExit(main())
