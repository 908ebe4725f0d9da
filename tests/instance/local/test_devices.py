"""The device table's promises that the contract cannot see: paging by range, counters that match a
recount, contiguous sequence numbers through the slow path, and chunked inserts."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.domain.kinds import DeviceState
from app.domain.records import PageRequest
from app.instance.local import devices
from app.instance.local.batches import STATE_COLUMNS
from app.instance.local.instance import LocalInstance

IdMaker = Callable[..., list[str]]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "local.sqlite3"


@pytest.fixture
def instance(path: Path) -> Iterator[LocalInstance]:
    with LocalInstance.open(path) as opened:
        yield opened


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path)


def test_a_page_is_a_primary_key_range_at_any_offset(instance: LocalInstance, path: Path) -> None:
    conn = _raw(path)
    try:
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT device_id, state, added_ms FROM devices "
            "WHERE batch_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (1, 999_800, 200),
        ).fetchall()
    finally:
        conn.close()
    details = " ".join(row[3] for row in plan)
    assert "SEARCH devices USING PRIMARY KEY (batch_id=? AND seq>?)" in details
    assert "SCAN" not in details
    assert "TEMP B-TREE" not in details


def test_counters_match_a_recount(instance: LocalInstance, path: Path, device_ids: IdMaker) -> None:
    instance.create_batch("a")
    instance.create_batch("b")
    ids = device_ids(200)
    instance.add_devices("a", ids[:120])
    instance.add_devices("b", ids[100:])  # 20 already in "a"
    instance.set_device_state(ids[:50], DeviceState.ENROLLED)
    instance.set_device_state(ids[40:60], DeviceState.REVOKED)
    instance.set_device_state(ids[150:190], DeviceState.EXPIRED)
    instance.set_device_state(ids[150:160], DeviceState.RENEWED)
    conn = _raw(path)
    try:
        stored = {
            row[0]: dict(zip(STATE_COLUMNS, row[1:], strict=True))
            for row in conn.execute(f"SELECT id, {', '.join(STATE_COLUMNS)} FROM batches")  # noqa: S608
        }
        for batch_id, counters in stored.items():
            recount = dict.fromkeys(STATE_COLUMNS, 0)
            for state, count in conn.execute(
                "SELECT state, count(*) FROM devices WHERE batch_id = ? GROUP BY state", (batch_id,)
            ):
                recount[devices.STATES[state].value] = count
            assert counters == recount
        seqs = conn.execute("SELECT batch_id, min(seq), max(seq), count(*) FROM devices GROUP BY batch_id")
        assert all(low == 1 and high == count for _, low, high, count in seqs)
    finally:
        conn.close()
    assert instance.dashboard_summary().devices.total == 200


def test_chunked_inserts_keep_order_and_numbering(
    instance: LocalInstance, device_ids: IdMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(devices, "_INSERT_CHUNK", 7)
    instance.create_batch("b")
    ids = device_ids(50)
    instance.add_devices("b", ids[:23])
    result = instance.add_devices("b", ids[10:])  # the slow path, across chunk boundaries
    assert (result.added, result.already_present) == (27, 13)
    page = instance.list_devices("b", PageRequest(offset=0, limit=100))
    assert [d.device_id for d in page.items] == ids
    assert [d.device_id for d in instance.list_devices("b", PageRequest(offset=45, limit=10)).items] == ids[
        45:
    ]


def test_a_failed_add_rolls_everything_back(instance: LocalInstance, path: Path, device_ids: IdMaker) -> None:
    instance.create_batch("b")
    instance.add_devices("b", device_ids(5))
    activity_before = instance.list_activity().total
    with pytest.raises(Exception, match="there is no batch named 'missing'"):
        instance.add_devices("missing", device_ids(5, tag="x"))
    assert instance.list_activity().total == activity_before
    assert instance.find_device(device_ids(5, tag="x")[0]) is None


def test_device_ids_are_32_byte_blobs(instance: LocalInstance, path: Path, device_ids: IdMaker) -> None:
    instance.create_batch("b")
    instance.add_devices("b", device_ids(3))
    conn = _raw(path)
    try:
        assert conn.execute(
            "SELECT DISTINCT typeof(device_id), length(device_id) FROM devices"
        ).fetchall() == [("blob", 32)]
    finally:
        conn.close()


def test_validation_fast_and_slow_paths_agree(device_ids: IdMaker) -> None:
    ids = device_ids(4)
    assert devices.device_id_blobs(ids) == [bytes.fromhex(i) for i in ids]
    assert devices.device_id_blobs([ids[0].upper(), f" {ids[1]} "]) == [
        bytes.fromhex(ids[0]),
        bytes.fromhex(ids[1]),
    ]
    assert devices.device_id_blobs([]) == []
    spaced = ids[2][:30] + " " + ids[2][31:]  # 64 characters, but one of them a space
    with pytest.raises(Exception, match="device #2: a DeviceID has only hexadecimal digits 0-9 a-f; ' ' at"):
        devices.device_id_blobs([ids[0], spaced])
    with pytest.raises(
        Exception, match="device #1: a DeviceID is exactly 64 hexadecimal characters, this one has 66"
    ):
        devices.device_id_blobs([ids[0] + "ab"])
