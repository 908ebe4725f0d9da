"""Keyed pushes happen exactly once: replays, reused keys, and a server killed mid-push then retried."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import requests

from app.domain.errors import InstanceUnavailableError
from app.domain.kinds import Role
from app.domain.records import AddDevicesResult, PageRequest
from app.instance.local.idempotency import KeyedRequest
from app.instance.local.instance import LocalInstance
from app.instance.remote.instance import RemoteInstance
from app.instance.remote.routes import IDEMPOTENCY_HEADER
from app.system.paths import DataDir
from tests.server.conftest import Serving
from tests.support.serve_process import start_serve, write_root_ca

PASSWORD = "exactly once password"


def _ids(count: int, tag: str) -> list[str]:
    return [hashlib.sha256(f"{tag}-{n}".encode()).hexdigest() for n in range(count)]


def _post(serving: Serving, token: str, key: str, body: object) -> requests.Response:
    return requests.post(
        serving.url + "/v1/batch/devices",
        json=body,
        headers={"Authorization": f"Bearer {token}", IDEMPOTENCY_HEADER: key},
        verify=str(serving.ca_file),
        timeout=30,
    )


def test_a_retry_gets_the_first_answer_and_a_reused_key_is_409(serving: Serving) -> None:
    admin = serving.admin()
    admin.create_batch("line")
    token = serving.served.issue_token(None)
    ids = _ids(3, "retry")
    first = _post(serving, token, "k-1", {"batch": "line", "device_ids": ids})
    admin.add_devices("line", [*ids, *_ids(2, "other")])  # the instance changes in between
    again = _post(serving, token, "k-1", {"batch": "line", "device_ids": ids})
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert first.json()["added"] == 3
    assert admin.get_batch("line").counts.total == 5
    other = _post(serving, token, "k-1", {"batch": "line", "device_ids": ids[:1]})
    assert other.status_code == 409
    assert other.json()["error"]["message"] == (
        "the Idempotency-Key 'k-1' was already used for a different request; use a new key for a new request"
    )
    bad = _post(serving, token, "\u00e9", {"batch": "line", "device_ids": ids})
    assert bad.status_code == 422
    assert "Idempotency-Key is 1 to 255 printable ASCII characters" in bad.json()["error"]["message"]
    assert admin.get_batch("line").counts.total == 5


def test_the_answer_commits_with_the_change_in_the_instance_file(tmp_path: Path) -> None:
    db = tmp_path / "instance.sqlite3"
    request = KeyedRequest("once", b"\x01" * 32)
    ids = _ids(4, "file")
    with LocalInstance.open(db) as instance:
        instance.create_batch("line")
        first = instance.add_devices_once("line", ids, request)
        assert not first.replayed
    raw = sqlite3.connect(db)
    rows = raw.execute("SELECT actor, method, key FROM idempotency").fetchall()
    raw.close()
    assert rows == [("station", "add_devices", "once")]
    with LocalInstance.open(db) as reopened:  # a new process after a crash sees both or neither
        again = reopened.add_devices_once("line", ids, request)
        assert again.replayed and again.result == first.result
        assert reopened.get_batch("line").counts.total == 4
        with pytest.raises(Exception, match="already used for a different request"):
            reopened.add_devices_once("line", ids, KeyedRequest("once", b"\x02" * 32))
        assert reopened.move_devices_once("line", ids, KeyedRequest("m", b"\x03" * 32)).result == 0


def _push(client: RemoteInstance, batch: str, ids: list[str], key: str, outcome: list[object]) -> None:
    try:
        outcome.append(client.add_devices(batch, ids, idempotency_key=key))
    except InstanceUnavailableError as exc:  # the server died before it answered
        outcome.append(exc)


def _state(db: Path, batch: str, key: str) -> tuple[int, bool]:
    """(devices in the batch, answer remembered under the key), read straight from the file."""
    raw = sqlite3.connect(db)
    try:
        (count,) = raw.execute(
            "SELECT count(*) FROM devices JOIN batches ON batches.id = devices.batch_id "
            "WHERE batches.name = ?",
            (batch,),
        ).fetchone()
        kept = raw.execute("SELECT 1 FROM idempotency WHERE key = ?", (key,)).fetchone() is not None
    finally:
        raw.close()
    return count, kept


def test_a_server_killed_during_a_push_still_pushes_exactly_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "server-data"
    db = DataDir(data_dir).local_instance_db
    count = 100_000
    rounds = (0.15, 0.6, None)  # kill early, kill later, kill after the answer arrived
    with LocalInstance.open(db) as instance:
        instance.create_user("alice", PASSWORD, Role.ADMINISTRATOR)
        for n in range(len(rounds)):
            instance.create_batch(f"line-{n}")
    ca_file = write_root_ca(data_dir, tmp_path / "paired.pem")
    seen = []
    for n, delay in enumerate(rounds):
        batch, key, ids = f"line-{n}", f"push-{n}", _ids(count, f"round-{n}")
        server = start_serve(data_dir)
        outcome: list[object] = []
        signed_in = RemoteInstance.sign_in(server.url, ca_file, "alice", PASSWORD)
        client = RemoteInstance(signed_in._connection, max_ids_per_request=count)  # one request, one key

        pusher = threading.Thread(target=_push, args=(client, batch, ids, key, outcome))
        pusher.start()
        if delay is None:
            pusher.join()
        else:
            time.sleep(delay)
        server.kill()
        pusher.join()
        client.close()
        pushed, kept = _state(db, batch, key)
        assert (pushed, kept) in ((0, False), (count, True)), "the push and its key must commit together"
        seen.append(pushed)

        restarted = start_serve(data_dir)
        try:
            with RemoteInstance.sign_in(restarted.url, ca_file, "alice", PASSWORD) as signed:
                retry = RemoteInstance(signed._connection, max_ids_per_request=count)
                result = retry.add_devices(batch, ids, idempotency_key=key)
                assert result == AddDevicesResult(added=count)  # the first answer, or the first run
                assert retry.get_batch(batch).counts.total == count
                logged = retry.list_activity(PageRequest(search="batch.add-devices", limit=100)).items
                assert [e.target for e in logged].count(batch) == 1
        finally:
            restarted.kill()
        assert _state(db, batch, key) == (count, True)
        if delay is None:
            assert outcome == [AddDevicesResult(added=count)]
    assert seen[-1] == count
    print(f"devices committed when the server was killed, per round: {seen}")
