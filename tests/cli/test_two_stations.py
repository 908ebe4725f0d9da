"""Two stations, one served instance: both provision virtual boards into it at the same time.

Everything is real: one `ql-station serve` process over HTTPS on loopback, two station data folders
paired with it by fingerprint, each signed in as its own operator, each provisioning its own virtual
boards in a `ql-station provision` process of its own, the two running at once.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from app.cli.main import run
from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, IefKind, KeyType, Role
from app.domain.paging import iterate_pages
from app.domain.run_options import TaskRunOptions
from app.instance.local.instance import LocalInstance
from app.sim.fleet import SimFleet
from app.system.paths import DataDir
from tests.provisioning.sim_boards import board_device_id
from tests.support.serve_process import ServeProcess, start_serve

NO_ENROL_WAIT = TaskRunOptions(enrol_wait_s=0)  # these runs are not about enrolment

OPERATORS = {"alice": "alice on line one", "bob": "bob on line two"}  # user -> password
BOARDS = 2


@dataclass
class Server:
    running: ServeProcess
    data_dir: DataDir

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def fingerprint(self) -> str:
        return self.running.fingerprint


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    data_dir = DataDir(tmp_path / "instance-pc")
    with LocalInstance.open(data_dir.ensure().local_instance_db) as instance:
        instance.create_user("alice", OPERATORS["alice"], Role.ADMINISTRATOR)
        instance.create_user("bob", OPERATORS["bob"], Role.CONTRIBUTOR)
        instance.create_signing_key("line-key", KeyType.RSA_3072)
        instance.create_task(
            "line-task",
            ChipType.ESP32C3,
            BootloaderKind.DEV,
            IefKind.DEBUG,
            "line-key",
            run_options=NO_ENROL_WAIT,
        )
        for user in OPERATORS:
            instance.create_batch(f"batch-{user}")
    running = start_serve(data_dir.root)
    yield Server(running, data_dir)
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


def _provision(station: DataDir, batch: str, fleet: SimFleet) -> subprocess.Popen[bytes]:
    ap = fleet.access_point
    argv = [
        "provision",
        "--task",
        "line-task",
        "--batch",
        batch,
        "--ssid",
        ap.ssid,
        "--password-stdin",
        "--all",
    ]
    read, write = os.pipe()  # the password on stdin, written before the process starts
    os.write(write, (ap.password + "\n").encode())
    os.close(write)
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "app", "--data-dir", str(station.root), *argv],
            stdin=read,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(os.environ),
        )
    finally:
        os.close(read)


def test_two_stations_provision_into_one_served_instance_at_once(server: Server, tmp_path: Path) -> None:
    stations = {user: DataDir(tmp_path / f"station-{user}").ensure() for user in OPERATORS}
    for user, station in stations.items():
        code, text = _cli(station, "instance", "connect", server.url, "--fingerprint", server.fingerprint)
        assert code == 0, text
        code, text = _cli(station, "login", "--user", user, "--password-stdin", stdin=OPERATORS[user])
        assert code == 0 and f"as {user}" in text, text

    fleets = {
        user: SimFleet(tmp_path / f"boards-{user}", count=BOARDS, pacing=False, registry=station.sim_registry)
        for user, station in stations.items()
    }
    try:
        for fleet in fleets.values():
            fleet.__enter__()
        running = {user: _provision(stations[user], f"batch-{user}", fleets[user]) for user in OPERATORS}
        for user, process in running.items():
            argv = " ".join(map(str, process.args))  # type: ignore[arg-type]
            assert all(
                secret not in argv for secret in (*OPERATORS.values(), fleets[user].access_point.password)
            )
            stdout, stderr = process.communicate(timeout=300)
            text = stdout.decode() + stderr.decode()
            assert process.returncode == 0, text
            assert f"{BOARDS} of {BOARDS} board(s) passed" in text
            assert fleets[user].access_point.password not in text
            for password in OPERATORS.values():
                assert password not in text
        expected = {user: {board_device_id(b) for b in fleet.boards} for user, fleet in fleets.items()}
    finally:
        for fleet in fleets.values():
            fleet.__exit__(None, None, None)

    with LocalInstance.open(server.data_dir.local_instance_db) as instance:
        for user in OPERATORS:
            held = {str(d.device_id) for d in iterate_pages(partial(instance.list_devices, f"batch-{user}"))}
            assert held == expected[user] and len(held) == BOARDS
        pushes = [e for e in iterate_pages(instance.list_activity) if e.action == "batch.add-devices"]
    assert {(e.actor, e.target) for e in pushes} == {("alice", "batch-alice"), ("bob", "batch-bob")}

    for user, station in stations.items():  # each station's own records name its operator
        code, text = _cli(station, "records", "--json")
        assert code == 0, text
        records = json.loads(text)["records"]
        assert {r["operator"] for r in records} == {user} and len(records) == BOARDS
