"""The Records and Throughput pages on a station with 100,000 records: how long a person waits.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/records_page.py [--records 100000] [--runs 5]

Fills a temporary records file with a realistic line (benchmarks/records_fill.py), then measures, in a
real offscreen window page on the real file:
- first page: from the page asking (`reload`) to its first 200 rows shown (query on the thread pool,
  rows inserted into the model, the count line written);
- each filter: from the filter changing to the filtered first page shown (outcome, batch, operator,
  search text, a date range, and all of them at once);
- the Throughput page's figures (two grouped queries over the window and their arithmetic);
- the records file alone (no Qt): count + first page, and a CSV export of every record.
Goals: first page and each filter <= 250 ms (the person sees the table answer as they click).

Measured 2026-12-02 on the shared 2-core machine, medians of 7 runs, before/after alternating in one
sitting: search 'ttyUSB7' (6,250 matches) 58 / 73 ms -> 28 ms; a MAC (256) 34 / 43 -> 24 ms; all
filters at once 14 / 15 -> 9 ms. The search used to run its full-text match twice (the count, then
the page) and sort whole rows; it now counts and sorts only rowids in one pass (fetch_page's one_pass).
Earlier figures of 282 ms for the same search were taken while the machine was loaded.
The CSV export of 100,000 records went from 9-22 s to 5-10 s (reading them all: 5.7 -> 2.4 s) once
`RecordsDB.iterate` started each page after the last record read instead of at an offset.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from PySide6.QtCore import QCoreApplication, QEventLoop, QSettings, QThreadPool, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.domain.records import PageRequest  # noqa: E402
from app.provisioning.events import Outcome  # noqa: E402
from app.provisioning.record_export import ExportFormat  # noqa: E402
from app.provisioning.record_query import RecordFilter  # noqa: E402
from app.provisioning.records import RecordsDB  # noqa: E402
from app.system.paths import DataDir  # noqa: E402
from app.ui.models.station_log import StationLogModel  # noqa: E402
from app.ui.pages.context import PageContext  # noqa: E402
from app.ui.pages.records import RecordsPage  # noqa: E402
from app.ui.pages.throughput import ThroughputPage  # noqa: E402
from app.ui.settings import StationSettings  # noqa: E402
from benchmarks.records_fill import fill  # noqa: E402

GOAL_MS = 250.0


class _NoInstance:
    """The Records pages never call the instance; anything that does is a bug this makes loud."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the records pages called the instance ({name})")


def wait_until(done: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    app = QCoreApplication.instance()
    assert app is not None
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the page did not answer in time")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)


ARRIVALS: list[float] = []
"""When each page arrived (one connection to the model's `loaded` for the whole run)."""


def timed_reload(page: RecordsPage, change: Callable[[], None]) -> float:
    """Milliseconds from `change` (which makes the page reload) to the first page on screen."""
    ARRIVALS.clear()
    start = time.perf_counter()
    change()
    wait_until(lambda: bool(ARRIVALS))
    QThreadPool.globalInstance().waitForDone()
    return (ARRIVALS[0] - start) * 1000


def _arrived() -> None:
    ARRIVALS.append(time.perf_counter())


def median_ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples):7.1f} ms  max {max(samples):7.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    app = QApplication(sys.argv)
    with tempfile.TemporaryDirectory(prefix="ql-records-bench-") as folder:
        root = Path(folder)
        data = DataDir(root / "station").ensure()
        start = time.perf_counter()
        fill(data.records_db, args.records, hours=24 * 30)  # a month of a busy line
        print(f"filled {args.records:,} records in {time.perf_counter() - start:.1f} s")
        plain(data.records_db, args.runs)
        settings = StationSettings(QSettings(str(root / "settings.ini"), QSettings.Format.IniFormat))
        context = PageContext(
            _NoInstance(),  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            settings,
            None,  # type: ignore[arg-type]
            StationLogModel(),
            data.root,
        )
        failures = gui(context, args.runs, args.records)
        QTimer.singleShot(0, app.quit)
        app.exec()
    over = f"{failures} figure(s) over the {GOAL_MS:g} ms goal"
    print(over if failures else "every figure within its goal")
    return 0  # figures to read, not a pass/fail: the machine is shared and noisy


def plain(path: Path, runs: int) -> None:
    with RecordsDB(path) as db:
        first = []
        for _ in range(runs):
            t = time.perf_counter()
            db.list_records(PageRequest(limit=200))
            first.append((time.perf_counter() - t) * 1000)
        print(f"records file: count + first 200 rows          {median_ms(first)}")
        out = path.parent / "all.csv"
        t = time.perf_counter()
        written = db.export(out, ExportFormat.CSV)
        seconds = time.perf_counter() - t
        print(f"records file: CSV export of {written:,} records   {seconds * 1000:7.0f} ms")


def gui(context: PageContext, runs: int, total: int) -> int:
    page = RecordsPage(context)
    page.model.loaded.connect(_arrived)
    page.resize(1280, 760)
    page.show()
    failures = 0
    loads = []
    for _ in range(runs):
        loads.append(timed_reload(page, page.reload))
    assert page.model.total == total, page.model.total
    failures += report("Records page: first page", loads)
    filters = page.filters
    choices_ready = lambda: filters.batch.count() > 1 and filters.operator.count() > 1  # noqa: E731
    wait_until(choices_ready)
    now = datetime.now(UTC)
    cases: list[tuple[str, Callable[[], None], Callable[[], None]]] = [
        (
            "filter: outcome fail",
            lambda: filters.outcome.setCurrentIndex(filters.outcome.findData("fail")),
            lambda: filters.outcome.setCurrentIndex(0),
        ),
        (
            "filter: batch",
            lambda: filters.batch.setCurrentIndex(1),
            lambda: filters.batch.setCurrentIndex(0),
        ),
        (
            "filter: operator",
            lambda: filters.operator.setCurrentIndex(2),
            lambda: filters.operator.setCurrentIndex(0),
        ),
        (
            "filter: search 'ttyUSB7'",
            lambda: page.model.reload(RecordFilter(search="ttyUSB7")),
            lambda: None,
        ),
        (
            "filter: search a MAC",
            lambda: page.model.reload(RecordFilter(search="24:0a:c4:00:13")),
            lambda: None,
        ),
        (
            "filter: last 24 hours",
            lambda: page.model.reload(RecordFilter(since=now - timedelta(days=1))),
            lambda: None,
        ),
        (
            "filter: all at once",
            lambda: page.model.reload(
                RecordFilter(
                    search="strapping",
                    outcome=Outcome.FAIL,
                    batch="line-1",
                    operator="bob",
                    since=now - timedelta(days=7),
                )
            ),
            lambda: None,
        ),
    ]
    for name, apply, undo in cases:
        samples = []
        for _ in range(runs):
            samples.append(timed_reload(page, apply))
            shown = page.model.total
            undo()
            wait_until(lambda: not page.model.loading)
            QThreadPool.globalInstance().waitForDone()
        failures += report(f"Records page: {name} ({shown:,} match)", samples)
    page.shutdown()

    throughput = ThroughputPage(context)
    throughput.show()
    figures = []
    for index in (0, 3):  # a shift, and seven days
        throughput.window_box.blockSignals(True)
        throughput.window_box.setCurrentIndex(index)
        throughput.window_box.blockSignals(False)
        samples = []
        for _ in range(runs):
            throughput.figures = None
            t = time.perf_counter()
            throughput.refresh()
            wait_until(lambda: throughput.figures is not None)
            samples.append((time.perf_counter() - t) * 1000)
        figures.append(samples)
        label = throughput.window_box.currentText()
        boards = throughput.figures.throughput.boards if throughput.figures else 0
        print(f"Throughput page: {label:<24} ({boards:,} boards)   {median_ms(samples)}")
    throughput.shutdown()
    QThreadPool.globalInstance().waitForDone()
    return failures


def report(name: str, samples: list[float]) -> int:
    ok = statistics.median(samples) <= GOAL_MS
    print(f"{name:<52} {median_ms(samples)}  {'ok' if ok else f'OVER the {GOAL_MS:g} ms goal'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
