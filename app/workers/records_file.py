"""The station's records file for the window's pages: opened on first use, on a worker thread.

Opening the file may migrate its schema, so it never happens on the GUI thread; every page call that
needs the records runs on the thread pool (app/workers/background.py) and asks `db()` there. The
station thread keeps its own connection for writing records (app/workers/station_worker.py); SQLite's
WAL lets these reads go on while it writes.
"""

from __future__ import annotations

import threading
from pathlib import Path

from app.provisioning.records import RecordsDB, RecordsError
from app.system.paths import DataDir


class RecordsFile:
    def __init__(self, data_dir: Path) -> None:
        self._data_dir = DataDir(data_dir)
        self._lock = threading.Lock()
        self._db: RecordsDB | None = None
        self._closed = False

    def db(self) -> RecordsDB:
        """The open records file (opened now if it was not). Call from a worker thread."""
        with self._lock:
            if self._closed:
                raise RecordsError("the records file was closed with the window")
            if self._db is None:
                self._db = RecordsDB(self._data_dir.ensure().records_db)
            return self._db

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._db is not None:
                self._db.close()
                self._db = None
