"""Screenshots of the Records and Throughput pages with a realistic shift in the records file.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_records_screenshots.py [--out docs/screenshots]

A temporary data folder gets a records file holding an eight-hour shift of 480 boards on one line
(benchmarks/records_fill.py: mostly passes, failures in the engine's own words with their step logs),
then a real window on a real local instance shows the Records page with a failed board selected and
the Throughput page, each grabbed at 1280x800. Helpers (the in-memory keyring, settling, grabbing)
are docs/make_screenshots.py's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "docs"))

from make_screenshots import SIZE, ScriptKeyring, settle, shoot  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.instance.local.instance import LocalInstance  # noqa: E402
from app.provisioning.events import Outcome  # noqa: E402
from app.system.paths import DataDir  # noqa: E402
from app.ui.application import station_log  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402
from app.ui.pages.context import PageContext  # noqa: E402
from app.ui.pages.records import RecordsPage  # noqa: E402
from app.ui.settings import StationSettings  # noqa: E402
from app.ui.style import apply_theme  # noqa: E402
from app.ui.window_sessions import shut_down  # noqa: E402
from benchmarks.records_fill import fill  # noqa: E402

SHIFT_BOARDS = 480


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv)
    with tempfile.TemporaryDirectory(prefix="ql-records-shots-") as folder:
        root = Path(folder)
        keyring = ScriptKeyring()
        settings = StationSettings(QSettings(str(root / "settings.ini"), QSettings.Format.IniFormat))
        apply_theme(app, "light")
        log_model, relay = station_log()
        data = DataDir(root / "station").ensure()
        fill(data.records_db, SHIFT_BOARDS, hours=7.6)
        instance = LocalInstance.open(data.local_instance_db, keyring=keyring)
        context = PageContext(instance, instance.info(), settings, keyring, log_model, data.root)
        window = MainWindow(context)
        try:
            window.resize(*SIZE)
            window.show()
            settle(app)
            window.show_page("Records")
            records = window.page("Records")
            assert isinstance(records, RecordsPage)
            settle(app)
            failed = next(
                row
                for row in range(records.model.rowCount())
                if records.model.record(row).outcome is Outcome.FAIL
                and records.model.record(row).step == "ief"
            )
            shoot(app, window, out / "records-page.png", lambda: records.select_row(failed))
            shoot(app, window, out / "throughput-page.png", lambda: window.show_page("Throughput"))
            window.resize(1024, 600)  # the smallest screen the window must fit: both charts still read
            shoot(app, window, out / "throughput-page-1024x600.png", lambda: window.show_page("Throughput"))
        finally:
            shut_down(app, [window], relay)  # closes the instance too
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
