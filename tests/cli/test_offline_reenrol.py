"""Offline, a technician re-enrols a board and provisions a new one; both IDs reach the instance once, later.

Everything real: a `ql-station serve` process over HTTPS on loopback, a station paired with it by
fingerprint and signed in, a virtual board provisioned online first (so the station used the task and
mirrored its signed images), then the server stopped, `reenrol` run offline, the server started again
on the same address, and the outbox delivered.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.cli.main import run
from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, IefKind, KeyType, Role
from app.domain.records import PageRequest
from app.instance.local.instance import LocalInstance
from app.provisioning.device_journal import JournalState
from app.provisioning.records import RecordsDB
from app.sim.fleet import SimFleet
from app.system.paths import DataDir

USER, PASSWORD = "tech-anna", "anna in the field"
TASK = "field-task"


@dataclass
class Server:
    data_dir: DataDir
    process: subprocess.Popen[str] | None = None
    url: str = ""
    fingerprint: str = ""

    def start(self, listen: str = "127.0.0.1:0") -> None:
        argv = ["--data-dir", str(self.data_dir.root), "serve", "--listen", listen]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        banner = ""
        while "Stop with Ctrl-C." not in banner:
            line = self.process.stdout.readline()
            if not line:
                pytest.fail(f"serve ended early: {banner}{self.process.stderr.read()}")
            banner += line
        url = re.search(r"at (https://\S+)", banner)
        fingerprint = re.search(r"Root CA SHA-256 fingerprint: ([0-9A-F:]{95})", banner)
        assert url and fingerprint, banner
        self.url, self.fingerprint = url.group(1), fingerprint.group(1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        if self.process is not None:
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    data_dir = DataDir(tmp_path / "instance-pc")
    with LocalInstance.open(data_dir.ensure().local_instance_db) as instance:
        instance.create_user(USER, PASSWORD, Role.ADMINISTRATOR)
        instance.create_signing_key("field-key", KeyType.RSA_3072)
        instance.create_task(TASK, ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, "field-key")
        instance.create_batch("factory")
        instance.create_batch("site-b")
    running = Server(data_dir)
    running.start()
    yield running
    running.stop()


def _cli(station: DataDir, *argv: str, stdin: str = "") -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        code = run(["--data-dir", str(station.root), *argv], out=out, err=err)
    finally:
        sys.stdin = saved
    return code, out.getvalue() + err.getvalue()


def _server_batch(server: Server, batch: str) -> list[str]:
    with LocalInstance.open(server.data_dir.local_instance_db) as instance:
        return [d.device_id for d in instance.list_devices(batch, PageRequest(limit=100)).items]


def test_an_offline_reenrolment_passes_and_its_id_reaches_the_instance_once(
    server: Server, tmp_path: Path
) -> None:
    station = DataDir(tmp_path / "laptop").ensure()
    code, text = _cli(station, "instance", "connect", server.url, "--fingerprint", server.fingerprint)
    assert code == 0, text
    code, text = _cli(station, "login", "--user", USER, "--password-stdin", stdin=PASSWORD)
    assert code == 0, text
    fleet = SimFleet(tmp_path / "boards", count=2, pacing=False, registry=station.sim_registry)
    try:
        ap = fleet.access_point
        port = fleet.urls[0]
        wifi = ["--ssid", ap.ssid, "--password-stdin"]
        code, text = _cli(
            station,
            "provision",
            "--task",
            TASK,
            "--batch",
            "factory",
            *wifi,
            "--port",
            port,
            stdin=ap.password,
        )
        assert code == 0, text
        (device,) = _server_batch(server, "factory")
        assert _cli(station, "batch", "list")[0] == 0  # online: the mirror keeps the batches

        address = server.url.removeprefix("https://")
        server.stop()
        code, text = _cli(station, "reenrol", "--port", port, "--batch", "site-b", *wifi, stdin=ap.password)
        assert code == 0, text
        assert "PASS" in text
        fresh = fleet.urls[1]  # a new board, provisioned offline with the task's mirrored signed images
        code, text = _cli(
            station,
            "provision",
            "--task",
            TASK,
            "--batch",
            "factory",
            *wifi,
            "--port",
            fresh,
            stdin=ap.password,
        )
        assert code == 0, text
        with RecordsDB(station.records_db) as records:
            moved, added = records.journal.outbox()
            assert (moved.device_id, moved.batch, moved.move) == (device, "site-b", True)
            assert (added.batch, added.move) == ("factory", False)

        server.start(address)
        code, text = _cli(station, "outbox", "send")
        assert code == 0, text
        assert "2 sent" in text
        assert _server_batch(server, "site-b") == [device]
        assert _server_batch(server, "factory") == [added.device_id]
        code, text = _cli(station, "outbox", "send")
        assert code == 0 and "0 sent" in text
        assert _server_batch(server, "site-b") == [device]  # once
        with LocalInstance.open(server.data_dir.local_instance_db) as instance:
            moves = instance.list_activity(PageRequest(search="device.move")).items
        assert [(m.actor, m.target) for m in moves] == [(USER, device)]
        with RecordsDB(station.records_db) as records:
            assert records.journal.count(JournalState.QUEUED) == 0
    finally:
        fleet.close()
