"""Another program holding a SQLite database's write lock (a second station mid-import, say)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def another_writer(path: Path) -> Iterator[None]:
    """Within the block, `path` is write-locked by a connection that is not the station's."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()
