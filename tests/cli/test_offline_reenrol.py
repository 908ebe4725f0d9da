"""Offline, a technician re-enrols a board and provisions a new one; both IDs reach the instance once, later.

Everything real: a `ql-station serve` process over HTTPS on loopback, a station paired with it by
fingerprint and signed in, a virtual board provisioned online first (so the station used the task and
mirrored its signed images), then the server stopped, `reenrol` run offline, the server started again
on the same address, and the outbox delivered.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli.main import run
from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, IefKind, KeyType, Role
from app.domain.records import PageRequest
from app.domain.run_options import TaskRunOptions
from app.instance.local.instance import LocalInstance
from app.provisioning.device_journal import JournalState
from app.provisioning.records import RecordsDB
from app.sim.fleet import SimFleet
from app.system.paths import DataDir
from tests.support.serve_process import ServeProcess, start_serve

NO_ENROL_WAIT = TaskRunOptions(enrol_wait_s=0)  # these runs are not about enrolment

USER, PASSWORD = "tech-anna", "anna in the field"
TASK = "field-task"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServeProcess]:
    data_dir = DataDir(tmp_path / "instance-pc")
    with LocalInstance.open(data_dir.ensure().local_instance_db) as instance:
        instance.create_user(USER, PASSWORD, Role.ADMINISTRATOR)
        instance.create_signing_key("field-key", KeyType.RSA_3072)
        instance.create_task(
            TASK, ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, "field-key", run_options=NO_ENROL_WAIT
        )
        instance.create_batch("factory")
        instance.create_batch("site-b")
    running = start_serve(data_dir.root)
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


def _server_batch(data_dir: DataDir, batch: str) -> list[str]:
    with LocalInstance.open(data_dir.local_instance_db) as instance:
        return [d.device_id for d in instance.list_devices(batch, PageRequest(limit=100)).items]


def test_an_offline_reenrolment_passes_and_its_id_reaches_the_instance_once(
    server: ServeProcess, tmp_path: Path
) -> None:
    served = DataDir(tmp_path / "instance-pc")  # the server's data folder (the fixture's)
    station = DataDir(tmp_path / "laptop").ensure()
    again: ServeProcess | None = None
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
        (device,) = _server_batch(served, "factory")
        assert _cli(station, "batch", "list")[0] == 0  # online: the mirror keeps the batches

        server.stop()
        code, text = _cli(station, "reenrol", "--port", port, "--batch", "site-b", *wifi, stdin=ap.password)
        assert code == 0, text
        assert "PASS (WARNING)" in text, "offline, the re-enrolment cannot be confirmed: it passes amber"
        offline = "enrolment not confirmed: offline (DeviceID queued)"
        assert f"{port}: passed with a warning: {offline}" in text
        code, listed = _cli(station, "records", "--json", "--outcome", "warning")
        assert code == 0, listed
        (warned,) = json.loads(listed)["records"]
        assert (warned["mode"], warned["outcome"], warned["warning"], warned["error"]) == (
            "reenrol",
            "pass",
            offline,
            "",
        )
        code, table = _cli(station, "records")
        assert "pass (warning)" in table and f"{port}: passed with a warning: {offline}" in table
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

        again = start_serve(served.root, listen=server.address)
        code, text = _cli(station, "outbox", "send")
        assert code == 0, text
        assert "2 sent" in text
        assert _server_batch(served, "site-b") == [device]
        assert _server_batch(served, "factory") == [added.device_id]
        code, text = _cli(station, "outbox", "send")
        assert code == 0 and "0 sent" in text
        assert _server_batch(served, "site-b") == [device]  # once
        with LocalInstance.open(served.local_instance_db) as instance:
            moves = instance.list_activity(PageRequest(search="device.move")).items
        assert [(m.actor, m.target) for m in moves] == [(USER, device)]
        with RecordsDB(station.records_db) as records:
            assert records.journal.count(JournalState.QUEUED) == 0
    finally:
        fleet.close()
        if again is not None:
            again.stop()


def test_offline_a_run_waiting_for_enrolment_passes_with_a_warning(
    server: ServeProcess, tmp_path: Path
) -> None:
    """The DeviceID is queued, so nobody can say the board enrolled: PASS, amber, and the reason."""
    station = DataDir(tmp_path / "laptop").ensure()
    assert _cli(station, "instance", "connect", server.url, "--fingerprint", server.fingerprint)[0] == 0
    assert _cli(station, "login", "--user", USER, "--password-stdin", stdin=PASSWORD)[0] == 0
    with SimFleet(tmp_path / "boards", count=2, pacing=False, registry=station.sim_registry) as fleet:
        ap = fleet.access_point
        run = ["provision", "--task", TASK, "--batch", "factory", "--ssid", ap.ssid, "--password-stdin"]
        code, text = _cli(station, *run, "--port", fleet.urls[0], stdin=ap.password)
        assert code == 0, text  # online first: the station mirrors the task's signed images
        server.stop()
        offline = fleet.urls[1]
        code, text = _cli(station, *run, "--port", offline, "--enrol-wait", "20", stdin=ap.password)
    assert code == 0, text
    assert "enrol   WARNING enrolment not confirmed: offline (DeviceID queued)" in text
    assert "PASS (WARNING)" in text
    assert f"{offline}: passed with a warning: enrolment not confirmed: offline (DeviceID queued)" in text
