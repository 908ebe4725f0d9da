"""The mirror file (`mirror.sqlite3`): the last answers of a remote instance, kept for when it is away.

Records are stored in the wire format (app/instance/wire.py), so the mirror holds exactly what the
instance said and a field added to a record needs no change here. Three shapes:

- *singletons* (instance info, dashboard summary, parameters, certificates): the whole answer;
- *collections* (batches, policies, tasks, images, signing keys, users, activity): one row per item with the
  text a search looks in, so an offline listing pages and searches as the instance does;
- *devices* of the batches this station pushed to, by their position in the batch, so a refresh only
  fetches what was added since the last one, and fetches a batch anew when devices moved out of it or
  changed state (see `MirrorInstance.refresh_devices`).

Every row carries when it was refreshed: "data from 10:42" is the oldest of what a page shows. Nothing
secret is ever here: the instance answers with public parts only (keys stay in the instance).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from app.domain.errors import StationError
from app.domain.records import Device, DeviceCounts, Page, PageRequest
from app.instance.wire import from_json, to_json
from app.system.sqlite_file import SqliteFile, from_ms, now_ms
from app.system.sqlite_paging import fetch_page, search_clause

T = TypeVar("T")

_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

CREATE TABLE singletons (
    kind TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    refreshed_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE items (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    position INTEGER NOT NULL,
    searched TEXT NOT NULL,
    body TEXT NOT NULL,
    refreshed_ms INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE INDEX items_in_order ON items (kind, position);

CREATE TABLE collections (kind TEXT PRIMARY KEY, refreshed_ms INTEGER NOT NULL) WITHOUT ROWID;

CREATE TABLE devices (
    batch TEXT NOT NULL,
    position INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (batch, position)
) WITHOUT ROWID;
CREATE INDEX devices_by_id ON devices (device_id);

CREATE TABLE tracked_batches (
    batch TEXT PRIMARY KEY,
    refreshed_ms INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE task_images (
    task TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    refreshed_ms INTEGER NOT NULL
) WITHOUT ROWID;
"""
_V2 = """
ALTER TABLE task_images ADD COLUMN task_body TEXT NOT NULL DEFAULT '';
"""
MIGRATIONS = (_V1, _V2)  # 2: the task record the images were signed for, to know when to sign again
SOURCE_KEY = "source"


class MirrorError(StationError):
    """The mirror file cannot be opened or written; the station still works online without it."""


@dataclass(frozen=True)
class Stored(Generic[T]):
    value: T
    refreshed_at: datetime


class MirrorStore:
    """One instance's mirror. Opening it for another instance (another URL) starts it empty."""

    def __init__(self, path: Path, source: str) -> None:
        self._file = SqliteFile(path, what="instance mirror", error=MirrorError)
        try:
            self._file.migrate(MIGRATIONS, "update the station, or delete the mirror file to start it anew")
            self._claim(source)
        except BaseException:
            self._file.close()
            raise
        self.source = source

    def close(self) -> None:
        self._file.close()

    def _claim(self, source: str) -> None:
        """A mirror of another instance is of no use here, and must never be shown as this one's."""
        with self._file.write() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (SOURCE_KEY,)).fetchone()
            if row is not None and row[0] == source:
                return
            for table in ("singletons", "items", "collections", "devices", "tracked_batches", "task_images"):
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (SOURCE_KEY, source))

    # --- singletons --------------------------------------------------------------------------------
    def put_singleton(self, kind: str, value: Any) -> None:
        with self._file.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO singletons (kind, body, refreshed_ms) VALUES (?, ?, ?)",
                (kind, _dump(value), now_ms()),
            )

    def singleton(self, kind: str, tp: Any) -> Stored[Any] | None:
        with self._file.read() as conn:
            row = conn.execute("SELECT body, refreshed_ms FROM singletons WHERE kind = ?", (kind,)).fetchone()
        if row is None:
            return None
        return Stored(from_json(tp, json.loads(row[0]), f"mirrored {kind}"), from_ms(row[1]))

    # --- collections -------------------------------------------------------------------------------
    def replace_collection(
        self, kind: str, items: Iterable[Any], key: Callable[[Any], str], searched: Callable[[Any], str]
    ) -> int:
        """The whole collection as the instance has it now: items it no longer has are gone."""
        stamp = now_ms()
        count = 0
        with self._file.write() as conn:
            conn.execute("DELETE FROM items WHERE kind = ?", (kind,))
            for count, item in enumerate(items, start=1):
                conn.execute(
                    "INSERT OR REPLACE INTO items (kind, key, position, searched, body, refreshed_ms) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (kind, key(item), count, searched(item).lower(), _dump(item), stamp),
                )
            conn.execute(
                "INSERT OR REPLACE INTO collections (kind, refreshed_ms) VALUES (?, ?)", (kind, stamp)
            )
        return count

    def put_items(
        self, kind: str, items: Sequence[Any], key: Callable[[Any], str], searched: Callable[[Any], str]
    ) -> None:
        """Items seen in an online answer: updated in place, or added after the known ones."""
        if not items:
            return
        stamp = now_ms()
        with self._file.write() as conn:
            for item in items:
                row = conn.execute(
                    "SELECT position FROM items WHERE kind = ? AND key = ?", (kind, key(item))
                ).fetchone()
                if row is None:
                    last = conn.execute(
                        "SELECT coalesce(max(position), 0) FROM items WHERE kind = ?", (kind,)
                    ).fetchone()[0]
                    position = int(last) + 1
                else:
                    position = int(row[0])
                conn.execute(
                    "INSERT OR REPLACE INTO items (kind, key, position, searched, body, refreshed_ms) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (kind, key(item), position, searched(item).lower(), _dump(item), stamp),
                )

    def drop_item(self, kind: str, key: str) -> None:
        """An item this station deleted on the instance: gone from the offline copy at once."""
        with self._file.write() as conn:
            conn.execute("DELETE FROM items WHERE kind = ? AND key = ?", (kind, key))

    def item(self, kind: str, key: str, tp: Any) -> Stored[Any] | None:
        with self._file.read() as conn:
            row = conn.execute(
                "SELECT body, refreshed_ms FROM items WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
        if row is None:
            return None
        return Stored(from_json(tp, json.loads(row[0]), f"mirrored {kind} {key!r}"), from_ms(row[1]))

    def items(self, kind: str, keys: Sequence[str], tp: Any) -> Stored[tuple[Any, ...]] | None:
        """Those of `keys` the mirror holds, in the order asked; None when it holds none of them."""
        found: dict[str, tuple[Any, int]] = {}
        with self._file.read() as conn:
            for key in dict.fromkeys(keys):
                row = conn.execute(
                    "SELECT body, refreshed_ms FROM items WHERE kind = ? AND key = ?", (kind, key)
                ).fetchone()
                if row is not None:
                    found[key] = (from_json(tp, json.loads(row[0]), f"mirrored {kind} {key!r}"), row[1])
        if not found:
            return None
        oldest = min(stamp for _, stamp in found.values())
        return Stored(tuple(value for value, _ in found.values()), from_ms(int(oldest)))

    def keys(self, kind: str) -> list[str]:
        with self._file.read() as conn:
            rows = conn.execute("SELECT key FROM items WHERE kind = ? ORDER BY position", (kind,))
            return [row[0] for row in rows]

    def page(self, kind: str, tp: Any, page: PageRequest) -> Stored[Page[Any]] | None:
        """A page as the instance would give it, or None when this collection was never mirrored."""
        with self._file.read() as conn:
            mirrored = conn.execute("SELECT refreshed_ms FROM collections WHERE kind = ?", (kind,)).fetchone()
            if mirrored is None:
                return None
            where, params = search_clause(("searched",), page.search.lower())
            result = fetch_page(
                conn,
                select="body",
                table="items",
                where=f"kind = ? AND {where}",
                params=[kind, *params],
                order_by="position",
                page=page,
                row_to_item=lambda row: from_json(tp, json.loads(row[0]), f"mirrored {kind}"),
            )
            oldest = conn.execute("SELECT min(refreshed_ms) FROM items WHERE kind = ?", (kind,)).fetchone()[0]
        return Stored(result, from_ms(min(int(oldest or mirrored[0]), int(mirrored[0]))))

    # --- devices of the batches this station pushed to ----------------------------------------------
    def track_batch(self, batch: str) -> None:
        with self._file.write() as conn:
            conn.execute("INSERT OR IGNORE INTO tracked_batches (batch) VALUES (?)", (batch,))

    def tracked_batches(self) -> list[str]:
        with self._file.read() as conn:
            return [row[0] for row in conn.execute("SELECT batch FROM tracked_batches ORDER BY batch")]

    def forget_batch(self, batch: str) -> None:
        """A batch the instance no longer has: its mirrored devices go, and it is no longer refreshed."""
        with self._file.write() as conn:
            conn.execute("DELETE FROM devices WHERE batch = ?", (batch,))
            conn.execute("DELETE FROM tracked_batches WHERE batch = ?", (batch,))

    def state_counts(self, batch: str) -> DeviceCounts:
        """How many mirrored devices of `batch` are in each state (to compare with the batch's counters)."""
        with self._file.read() as conn:
            rows = conn.execute(
                "SELECT json_extract(body, '$.state'), count(*) FROM devices WHERE batch = ? GROUP BY 1",
                (batch,),
            ).fetchall()
        return DeviceCounts(**{str(state): int(count) for state, count in rows})

    def device_count(self, batch: str) -> int:
        with self._file.read() as conn:
            return int(conn.execute("SELECT count(*) FROM devices WHERE batch = ?", (batch,)).fetchone()[0])

    def last_device(self, batch: str) -> Device | None:
        with self._file.read() as conn:
            row = conn.execute(
                "SELECT body FROM devices WHERE batch = ? ORDER BY position DESC LIMIT 1", (batch,)
            ).fetchone()
        return None if row is None else from_json(Device, json.loads(row[0]), "mirrored device")

    def append_devices(
        self, batch: str, start: int, devices: Sequence[Device], *, reset: bool = False
    ) -> None:
        """Devices at positions start, start+1, ... of `batch` (positions count from 0)."""
        with self._file.write() as conn:
            if reset:
                conn.execute("DELETE FROM devices WHERE batch = ?", (batch,))
            conn.executemany(
                "INSERT OR REPLACE INTO devices (batch, position, device_id, body) VALUES (?, ?, ?, ?)",
                [(batch, start + i, str(d.device_id), _dump(d)) for i, d in enumerate(devices)],
            )
            conn.execute(
                "INSERT INTO tracked_batches (batch, refreshed_ms) VALUES (?, ?) "
                "ON CONFLICT (batch) DO UPDATE SET refreshed_ms = excluded.refreshed_ms",
                (batch, now_ms()),
            )

    def devices_page(self, batch: str, page: PageRequest) -> Stored[Page[Device]] | None:
        """The mirrored devices of a batch, or None when the batch's devices were never mirrored."""
        prefix = page.search.strip().lower()
        with self._file.read() as conn:
            tracked = conn.execute(
                "SELECT refreshed_ms FROM tracked_batches WHERE batch = ? AND refreshed_ms > 0", (batch,)
            ).fetchone()
            if tracked is None:
                return None
            where, params = "batch = ?", [batch]
            if prefix:
                where += " AND device_id >= ? AND device_id < ?"
                params += [prefix, prefix + "g"]  # every hex digit sorts below "g"
            result = fetch_page(
                conn,
                select="body",
                table="devices",
                where=where,
                params=params,
                order_by="position",
                page=page,
                row_to_item=lambda row: from_json(Device, json.loads(row[0]), "mirrored device"),
            )
        return Stored(result, from_ms(int(tracked[0])))

    def find_device(self, device_id: str) -> Stored[Device] | None:
        with self._file.read() as conn:
            row = conn.execute(
                "SELECT d.body, t.refreshed_ms FROM devices d JOIN tracked_batches t ON t.batch = d.batch "
                "WHERE d.device_id = ? ORDER BY t.refreshed_ms DESC LIMIT 1",
                (device_id.lower(),),
            ).fetchone()
        return (
            None
            if row is None
            else Stored(from_json(Device, json.loads(row[0]), "mirrored device"), from_ms(row[1]))
        )

    # --- signed task images ------------------------------------------------------------------------
    def put_task_images(self, task: str, images: Any, signed_for: Any = None) -> None:
        """The signed images of `task`; `signed_for` is the task record they match, when known."""
        source = "" if signed_for is None else _dump(signed_for)
        with self._file.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO task_images (task, body, refreshed_ms, task_body) "
                "VALUES (?, ?, ?, ?)",
                (task, _dump(images), now_ms(), source),
            )

    def drop_task_images(self, task: str) -> None:
        with self._file.write() as conn:
            conn.execute("DELETE FROM task_images WHERE task = ?", (task,))

    def task_images_match(self, task: str, record: Any) -> bool:
        """Whether the mirrored images were signed for this very task record (same images, same key)."""
        with self._file.read() as conn:
            row = conn.execute("SELECT task_body FROM task_images WHERE task = ?", (task,)).fetchone()
        return row is not None and row[0] == _dump(record)

    def task_images(self, task: str, tp: Any) -> Stored[Any] | None:
        with self._file.read() as conn:
            row = conn.execute(
                "SELECT body, refreshed_ms FROM task_images WHERE task = ?", (task,)
            ).fetchone()
        if row is None:
            return None
        return Stored(from_json(tp, json.loads(row[0]), f"mirrored images of task {task!r}"), from_ms(row[1]))

    def mirrored_tasks(self) -> list[str]:
        with self._file.read() as conn:
            return [row[0] for row in conn.execute("SELECT task FROM task_images ORDER BY task")]

    def oldest_refresh(self) -> datetime | None:
        """When the least recent part of the mirror was fetched: what "data from …" tells a person."""
        with self._file.read() as conn:
            stamps = [
                conn.execute(f"SELECT min(refreshed_ms) FROM {table}").fetchone()[0]  # noqa: S608
                for table in ("singletons", "collections")
            ]
        known = [int(s) for s in stamps if s is not None]
        return from_ms(min(known)) if known else None


def _dump(value: Any) -> str:
    return json.dumps(to_json(value), separators=(",", ":"), ensure_ascii=False)
