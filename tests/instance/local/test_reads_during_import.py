"""Reads never wait behind a long write on the same instance: the dashboard during a bulk import."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

from app.instance.local.instance import LocalInstance


def test_the_dashboard_answers_while_a_200k_import_runs(tmp_path: Path) -> None:
    ids = [hashlib.sha256(f"bulk-{n}".encode()).hexdigest() for n in range(200_000)]
    with LocalInstance.open(tmp_path / "instance.sqlite3") as instance:
        instance.create_batch("big")
        started = threading.Event()
        finished: list[float] = []

        def import_all() -> None:
            started.set()
            instance.add_devices("big", ids)
            finished.append(time.monotonic())

        importer = threading.Thread(target=import_all)
        importer.start()
        started.wait(10)
        time.sleep(0.05)  # let it reach the database
        summary = instance.dashboard_summary()
        answered = time.monotonic()
        page = instance.list_batches()
        importer.join()
        assert finished, "the import failed"
        assert answered < finished[0], "the dashboard waited for the import"
        assert summary.devices.total in (0, 200_000)  # a committed state, never half an import
        assert page.items[0].name == "big"
        assert instance.dashboard_summary().devices.total == 200_000
