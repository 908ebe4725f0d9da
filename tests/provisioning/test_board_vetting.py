"""Board vetting on a real records file and a real local instance: which boards a batch would refuse."""

from __future__ import annotations

import hashlib
import socket
import sqlite3
import time
from pathlib import Path

from app.domain.device_id import DeviceID
from app.instance.local.instance import LocalInstance
from app.instance.remote.connection import Connection
from app.instance.remote.instance import RemoteInstance
from app.provisioning.board_vetting import BoardVetter
from app.provisioning.device_journal import JournalState
from app.provisioning.records import RecordsDB
from app.provisioning.station_replies import VET_REPLY_SECONDS

MAC = "aa:bb:cc:00:00:01"


def _id(tag: str) -> DeviceID:
    return DeviceID(hashlib.sha256(tag.encode()).hexdigest())


def _pushed(records: RecordsDB, device_id: DeviceID, batch: str, mac: str = MAC) -> None:
    entry = records.journal.receive(device_id, batch=batch, move=False, mac=mac)
    records.journal.settle(entry.id, JournalState.PUSHED)


def test_a_board_in_another_batch_is_refused_with_its_batch_named(tmp_path: Path) -> None:
    instance = LocalInstance.open(tmp_path / "instance.sqlite3")
    try:
        instance.create_batch("line-1")
        instance.create_batch("line-2")
        with RecordsDB(tmp_path / "records.sqlite3") as records:
            device_id = _id("board")
            instance.add_devices("line-1", [device_id])
            _pushed(records, device_id, "line-1")
            vetter = BoardVetter(instance, records)
            refusal = vetter.refusal(MAC, "line-2")
            assert refusal is not None
            assert refusal.board.batch == "line-1" and refusal.board.device_id == device_id
            assert "'line-1'" in refusal.reason and "re-enrol" in refusal.reason and MAC in refusal.reason
            assert vetter.refusal(MAC, " LINE-1 ") is None, "the same batch (as the instance compares it)"
            assert vetter.refusal(MAC, "line-2", move=True) is None, "re-enrolment moves on purpose"
            assert vetter.refusal("aa:bb:cc:00:00:02", "line-2") is None, "an unknown board"
            assert vetter.refusal("", "line-2") is None
            assert [name for name, _r in vetter.refusals([("sim-1", MAC), ("sim-2", "x")], "line-2")] == [
                "sim-1"
            ]
    finally:
        instance.close()


def test_the_instance_has_the_last_word_and_the_newest_id_counts(tmp_path: Path) -> None:
    instance = LocalInstance.open(tmp_path / "instance.sqlite3")
    try:
        instance.create_batch("line-1")
        instance.create_batch("line-2")
        with RecordsDB(tmp_path / "records.sqlite3") as records:
            old, new = _id("old"), _id("new")
            instance.add_devices("line-1", [old])
            _pushed(records, old, "line-1")
            _pushed(records, new, "line-1")  # the station says pushed; the instance no longer has it
            vetter = BoardVetter(instance, records)
            assert vetter.refusal(MAC, "line-2") is None, "the board's newest ID is in no batch"
            instance.add_devices("line-2", [new])
            refusal = vetter.refusal(MAC, "line-1")
            assert refusal is not None and refusal.board.batch == "line-2"
    finally:
        instance.close()


def test_the_records_file_gains_mac_indexes(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    RecordsDB(path).close()
    with sqlite3.connect(path) as raw:
        names = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        plan = " ".join(
            str(row) for row in raw.execute("EXPLAIN QUERY PLAN SELECT * FROM journal WHERE mac = 'x'")
        )
    assert {"records_by_mac", "journal_by_mac"} <= names
    assert "journal_by_mac" in plan


def test_an_unreachable_instance_leaves_the_station_records_to_answer(tmp_path: Path) -> None:
    """No instance to ask (a server that is not there): where this station pushed the ID stands in."""
    instance = LocalInstance.open(tmp_path / "instance.sqlite3")
    ca_file = tmp_path / "root-ca.pem"
    ca_file.write_text(next(c.pem for c in instance.certificates() if c.role == "root"))
    instance.close()
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    remote = RemoteInstance(Connection(f"https://127.0.0.1:{port}", ca_file, token="t", connect_timeout_s=1))
    try:
        with RecordsDB(tmp_path / "records.sqlite3") as records:
            pushed, queued = _id("pushed"), _id("queued")
            _pushed(records, pushed, "line-1")
            records.journal.receive(queued, batch="line-1", move=False, mac="aa:bb:cc:00:00:09")
            vetter = BoardVetter(remote, records)
            refusal = vetter.refusal(MAC, "line-2")
            assert refusal is not None and refusal.board.batch == "line-1"
            assert "the station's records; instance unreachable" in refusal.reason
            assert vetter.refusal("aa:bb:cc:00:00:09", "line-2") is None, "never pushed: nothing to refuse"
    finally:
        remote.close()


def test_an_instance_that_does_not_answer_is_not_waited_for(tmp_path: Path) -> None:
    """A server that takes the connection and says nothing: after `lookup_seconds` the records answer,
    well before the worker's check step stops waiting."""
    instance = LocalInstance.open(tmp_path / "instance.sqlite3")
    ca_file = tmp_path / "root-ca.pem"
    ca_file.write_text(next(c.pem for c in instance.certificates() if c.role == "root"))
    instance.close()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    url = f"https://127.0.0.1:{silent.getsockname()[1]}"
    remote = RemoteInstance(Connection(url, ca_file, token="t", connect_timeout_s=1, read_timeout_s=30))
    try:
        with RecordsDB(tmp_path / "records.sqlite3") as records:
            _pushed(records, _id("pushed"), "line-1")
            vetter = BoardVetter(remote, records, lookup_seconds=0.5)
            started = time.monotonic()
            refusal = vetter.refusal(MAC, "line-2")
            took = time.monotonic() - started
            assert refusal is not None and "instance unreachable" in refusal.reason
            assert took < VET_REPLY_SECONDS / 2, f"the check step would have waited {took:.1f} s"
    finally:
        silent.close()  # the hung handshake ends with the listener
        remote.close()
