"""Import a 1,000,000-ID batch file into a fresh local instance and time what a person waits for.

Goals on the 2-core reference machine: import (parse + add_devices) <= 5 s, dashboard summary <= 200 ms.
Also times a device page at the first and at the last offsets (paging must not slow down with depth),
and a second import of the same file into another batch (every ID already present: the slow path).

Runs in a temporary folder in passphrase mode (no keyring at all), so it never touches a person's data:
    .venv/bin/python benchmarks/batch_import.py [--count N]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import keyring
from keyring.backends import fail

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.domain.batch_file import parse_batch_file
from app.domain.records import PageRequest
from app.instance.local.instance import LocalInstance

T = TypeVar("T")
IMPORT_GOAL_S = 5.0
SUMMARY_GOAL_MS = 200.0
PASSPHRASE = secrets.token_urlsafe(16)  # used for this run only, never stored


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def median_ms(fn: Callable[[], object], runs: int) -> float:
    return statistics.median(timed(fn)[1] for _ in range(runs)) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="device IDs in the file")
    args = parser.parse_args()
    # Never touch the person's keyring: the instance runs in passphrase mode instead.
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]

    with tempfile.TemporaryDirectory(prefix="ql-bench-") as tmp:
        folder = Path(tmp)
        ids = [os.urandom(32).hex() for _ in range(args.count)]
        batch_file = folder / "devices.json"
        batch_file.write_text(json.dumps({"devices": ids}, indent=1), encoding="utf-8")
        del ids
        size_mb = batch_file.stat().st_size / 1e6
        print(f"batch file: {args.count:,} IDs, {size_mb:.1f} MB")

        instance = LocalInstance.open(
            folder / "instance.sqlite3", passphrase_prompt=lambda reason, new: PASSPHRASE
        )
        try:
            instance.create_batch("bench")
            data = batch_file.read_bytes()
            parsed, parse_s = timed(lambda: parse_batch_file(data, source=batch_file.name))
            result, add_s = timed(lambda: instance.add_devices("bench", parsed))
            total_s = parse_s + add_s
            verdict = "ok" if total_s <= IMPORT_GOAL_S else "OVER GOAL"
            print(
                f"import: parse {parse_s:.2f} s + add_devices {add_s:.2f} s = {total_s:.2f} s "
                f"(goal <= {IMPORT_GOAL_S:.0f} s: {verdict}); added {result.added:,}"
            )

            summary_ms = median_ms(instance.dashboard_summary, 20)
            verdict = "ok" if summary_ms <= SUMMARY_GOAL_MS else "OVER GOAL"
            devices = instance.dashboard_summary().devices.total
            print(
                f"dashboard_summary: median {summary_ms:.2f} ms of 20 runs "
                f"(goal <= {SUMMARY_GOAL_MS:.0f} ms: {verdict}); {devices:,} devices"
            )
            print(f"list_batches: median {median_ms(instance.list_batches, 20):.2f} ms of 20 runs")
            last = max(args.count - 200, 0)
            for offset in (0, args.count // 2, last):
                page = PageRequest(offset=offset, limit=200)
                ms = median_ms(lambda page=page: instance.list_devices("bench", page), 20)  # type: ignore[misc]
                print(f"list_devices offset {offset:>9,} limit 200: median {ms:.2f} ms of 20 runs")
            find_ms = median_ms(lambda: instance.find_device(parsed[len(parsed) // 3]), 20)
            print(f"find_device: median {find_ms:.2f} ms of 20 runs")

            instance.create_batch("bench-again")
            again, again_s = timed(lambda: instance.add_devices("bench-again", parsed))
            print(
                f"re-import of the same IDs into another batch: {again_s:.2f} s "
                f"(added {again.added:,}, already present {again.already_present:,})"
            )
            print(f"database size: {instance.dashboard_summary().health[2].detail}")
        finally:
            instance.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
