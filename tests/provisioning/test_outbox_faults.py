"""Exactly-once delivery of the outbox to a real `ql-station serve` over HTTPS, whatever breaks.

The station is killed (-9) mid-delivery, the server is killed mid-delivery, and a loopback proxy drops,
stalls and resets connections while the outbox is sent. Every time, after the faults stop, every queued
DeviceID is in the server's batch, none was refused (a retry must never look like "already elsewhere"),
and the journal says pushed for each. The instance keeps a device once by construction; what these
tests prove is that nothing is lost and no retry turns into a wrong refusal.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.domain.kinds import Role
from app.instance.local.instance import LocalInstance
from app.instance.remote.connection import Connection
from app.instance.remote.instance import RemoteInstance
from app.provisioning.device_journal import JournalState
from app.provisioning.device_push import flush_outbox
from app.provisioning.records import RecordsDB
from app.system.paths import DataDir
from tests.support.serve_process import ServeProcess, start_serve
from tests.support.tcp_proxy import TcpProxy

USER, PASSWORD = "line-station", "outbox test password"
BATCH = "line"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    """One served instance that the tests kill and start again on the same address."""

    data_dir: Path
    ca_file: Path
    running: ServeProcess | None = None
    _client: RemoteInstance | None = None

    def start(self, listen: str = "127.0.0.1:0") -> None:
        self.running = start_serve(self.data_dir, listen=listen)

    @property
    def url(self) -> str:
        assert self.running is not None
        return self.running.url

    def kill(self) -> None:
        self._forget_client()
        if self.running is not None:
            self.running.kill()

    def count(self) -> int:
        """The batch's size, asked over one signed-in session: a sign-in per question (a password hash
        each) made polling so slow on a loaded machine that the sender had finished before the kill."""
        if self._client is None:
            self._client = RemoteInstance.sign_in(self.url, self.ca_file, USER, PASSWORD)
        return self._client.get_batch(BATCH).counts.total

    def _forget_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    data_dir = tmp_path / "server"
    with LocalInstance.open(DataDir(data_dir).local_instance_db) as instance:
        instance.create_user(USER, PASSWORD, Role.CONTRIBUTOR)
        instance.create_batch(BATCH)
        root = next(c.pem for c in instance.certificates() if c.role == "root")
    ca_file = tmp_path / "paired-root-ca.pem"
    ca_file.write_text(root)
    running = Server(data_dir, ca_file)
    running.start()
    yield running
    running.kill()


@pytest.fixture
def records(tmp_path: Path) -> Iterator[RecordsDB]:
    db = RecordsDB(tmp_path / "station" / "records.sqlite3")
    yield db
    db.close()


def queue(records: RecordsDB, count: int) -> list[str]:
    device_ids = [hashlib.sha256(f"outbox-{i}".encode()).hexdigest() for i in range(count)]
    for device_id in device_ids:
        entry = records.journal.receive(device_id, batch=BATCH, move=False)
        records.journal.settle(entry.id, JournalState.QUEUED, "the network was down")
    return device_ids


def settled(records: RecordsDB, count: int) -> None:
    assert records.journal.count(JournalState.PUSHED) == count
    assert records.journal.count(JournalState.REFUSED) == 0
    assert records.journal.count(JournalState.QUEUED, JournalState.JOURNALED) == 0


def sender(server: Server, records: RecordsDB, group_size: int) -> subprocess.Popen[str]:
    config = {
        "records": str(records.path),
        "url": server.url,
        "ca_file": str(server.ca_file),
        "user": USER,
        "password": PASSWORD,
        "group_size": group_size,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.provisioning.outbox_sender"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    process.stdin.write(json.dumps(config))
    process.stdin.close()
    return process


def finish(process: subprocess.Popen[str], timeout_s: float = 120) -> tuple[int, str]:
    """Wait for a sender; its exit status and everything it printed."""
    process.wait(timeout_s)
    assert process.stdout is not None and process.stderr is not None
    return process.returncode, process.stdout.read() + process.stderr.read()


def wait_for_count(server: Server, at_least: int, timeout_s: float = 60) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        count = server.count()
        if count >= at_least:
            return count
        time.sleep(0.05)
    pytest.fail(f"the server never held {at_least} devices")


def test_a_station_killed_mid_delivery_delivers_everything_once_after_restart(
    server: Server, records: RecordsDB
) -> None:
    queue(records, 1000)
    first = sender(server, records, group_size=20)
    wait_for_count(server, 100)
    first.kill()
    finish(first, 10)
    assert server.count() < 1000, "the sender finished before it was killed: the test proved nothing"

    second = sender(server, records, group_size=20)
    code, printed = finish(second)
    assert code == 0, printed
    assert server.count() == 1000
    settled(records, 1000)


def test_a_server_killed_mid_delivery_gets_everything_once_after_restart(
    server: Server, records: RecordsDB
) -> None:
    queue(records, 1000)
    running = sender(server, records, group_size=10)
    wait_for_count(server, 100)
    assert server.running is not None
    address = server.running.address
    server.kill()
    code, printed = finish(running)
    assert "queued 0" not in printed, "the sender finished before the kill: the test proved nothing"
    assert code == 3, printed  # the instance went away: the rest stays queued
    assert records.journal.count(JournalState.QUEUED) > 0

    server.start(address)
    again = sender(server, records, group_size=20)
    code, printed = finish(again)
    assert code == 0, printed
    assert server.count() == 1000
    settled(records, 1000)


@pytest.mark.parametrize("mode", ["drop_answers", "stall", "refuse"])
def test_a_failing_link_during_delivery_loses_nothing(server: Server, records: RecordsDB, mode: str) -> None:
    queue(records, 300)
    assert server.running is not None
    proxy = TcpProxy(server.running.port)
    token_client = RemoteInstance.sign_in(server.url, server.ca_file, USER, PASSWORD)
    remote = RemoteInstance(
        Connection(proxy.url, server.ca_file, token=token_client.token, connect_timeout_s=2, read_timeout_s=2)
    )
    try:
        flush_outbox(remote, records.journal, group_size=50)  # a first part goes through
        delivered = server.count()
        queue_more = records.journal.count(JournalState.QUEUED)
        assert delivered == 300 and queue_more == 0  # the healthy link delivers all

        more = [hashlib.sha256(f"later-{i}".encode()).hexdigest() for i in range(300)]
        for device_id in more:
            entry = records.journal.receive(device_id, batch=BATCH, move=False)
            records.journal.settle(entry.id, JournalState.QUEUED, "the network was down")
        proxy.set_mode(mode)
        report = flush_outbox(remote, records.journal, group_size=50)
        assert report.unreachable, "the faulty link should have stopped the delivery"
        assert report.refused == 0
        if mode == "drop_answers":  # the server made the change, the station never heard: the retry replays
            # On a loaded machine the server may still be writing when the station's 2 s wait ends.
            assert wait_for_count(server, 301, timeout_s=30) > 300
            assert records.journal.count(JournalState.QUEUED) == 300

        proxy.set_mode("pass")
        deadline = time.monotonic() + 60  # retries until the outbox is empty, as the pusher would; on a
        while time.monotonic() < deadline:  # loaded machine a 2 s read wait may run out more than once
            if flush_outbox(remote, records.journal, group_size=50).still_queued == 0:
                break
        assert server.count() == 600
        settled(records, 600)
    finally:
        remote.close()
        token_client.close()
        proxy.close()
