"""End to end: the real pipeline (`ql-station provision`, real port workers, esptool, virtual boards)
provisions a board whose IEF then enrols with the instance's enrolment service over TLS, and the
instance reports it Enrolled with a certificate for the DeviceID the station pushed."""

from __future__ import annotations

import io
import json
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from app.cli import main as cli_main
from app.domain.kinds import DeviceState
from app.enrolment.runner import EnrolListen, start_enrolment
from app.instance.local.instance import LocalInstance
from app.sim.fleet import SimFleet
from app.system.paths import DataDir
from tests.provisioning.sim_boards import board_device_id


@pytest.fixture(autouse=True)
def _no_leaks(nothing_left_behind: None) -> None:
    """No worker process or thread outlives the test."""


def _cli(data_dir: DataDir, *argv: str, stdin: str = "") -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        code = cli_main.run(["--data-dir", str(data_dir.root), *argv], out=out, err=err)
    finally:
        sys.stdin = old
    return code, out.getvalue() + err.getvalue()


@pytest.fixture
def prepared(tmp_path: Path) -> Iterator[tuple[DataDir, LocalInstance]]:
    """A data folder with a key, a dev task and a batch `line`, and its instance open."""
    data_dir = DataDir(tmp_path / "station").ensure()
    assert _cli(data_dir, "key", "create", "k", "--type", "rsa-3072")[0] == 0
    task = ["task", "create", "dev", "--device-type", "esp32c3", "--bootloader", "dev", "--ief", "debug"]
    assert _cli(data_dir, *task, "--key", "k")[0] == 0
    assert _cli(data_dir, "batch", "create", "line")[0] == 0
    with LocalInstance.open(data_dir.local_instance_db) as instance:
        yield data_dir, instance


@pytest.fixture
def station(prepared: tuple[DataDir, LocalInstance]) -> Iterator[tuple[DataDir, LocalInstance, int]]:
    """... with the instance's enrolment service running, and boards told to reach it."""
    data_dir, instance = prepared
    service = start_enrolment(instance, EnrolListen("127.0.0.1", 0), data_dir.root)
    try:
        code, out = _cli(
            data_dir, "instance", "params", "--endpoint", "127.0.0.1", "--port", str(service.port)
        )
        assert code == 0, out
        yield data_dir, instance, service.port
    finally:
        service.stop()


def test_a_provisioned_virtual_board_reaches_enrolled(
    station: tuple[DataDir, LocalInstance, int], tmp_path: Path
) -> None:
    data_dir, instance, _port = station
    with SimFleet(tmp_path / "boards", count=1, pacing=False, registry=data_dir.sim_registry) as fleet:
        ap = fleet.access_point
        argv = [
            "provision",
            "--task",
            "dev",
            "--batch",
            "line",
            "--ssid",
            ap.ssid,
            "--password-stdin",
            "--all",
        ]
        code, out = _cli(data_dir, *argv, stdin=ap.password + "\n")
        assert code == 0, out
        device_id = board_device_id(fleet.boards[0])
        assert device_id is not None
        deadline = time.monotonic() + 30
        state = None
        while time.monotonic() < deadline:
            device = instance.find_device(device_id)
            state = device.state if device else None
            if state is DeviceState.ENROLLED:
                break
            time.sleep(0.2)
        assert state is DeviceState.ENROLLED, out
    certificate = instance.device_enrolment().certificate_of(device_id)
    assert certificate is not None and certificate.enrolments >= 1
    cert = x509.load_pem_x509_certificate(certificate.certificate_pem.encode())
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == device_id


def _provision(data_dir: DataDir, fleet: SimFleet, *extra: str) -> tuple[int, str]:
    ap = fleet.access_point
    argv = ["provision", "--task", "dev", "--batch", "line", "--ssid", ap.ssid, "--password-stdin", "--all"]
    return _cli(data_dir, *argv, *extra, stdin=ap.password + "\n")


def test_waiting_for_enrolment_makes_the_pass_say_enrolled(
    station: tuple[DataDir, LocalInstance, int], tmp_path: Path
) -> None:
    data_dir, instance, _port = station
    with SimFleet(tmp_path / "boards", count=1, pacing=False, registry=data_dir.sim_registry) as fleet:
        code, out = _provision(data_dir, fleet, "--wait-enrolled", "30", "--json")
        device_id = board_device_id(fleet.boards[0])
    assert code == 0, out
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    enrol_steps = [e for e in events if e["type"] == "step" and e["step"] == "enrol"]
    assert [e["status"] for e in enrol_steps] == ["started", "passed"]
    (result,) = [e for e in events if e["type"] == "result"]
    assert result["outcome"] == "pass" and result["message"].endswith("; enrolled"), result
    device = instance.find_device(str(device_id))
    assert device is not None and device.state is DeviceState.ENROLLED


def test_a_board_that_cannot_enrol_fails_with_enrolment_not_confirmed(
    station: tuple[DataDir, LocalInstance, int], tmp_path: Path
) -> None:
    data_dir, instance, _port = station
    # Boards are sent to a host the simulated network cannot resolve: the service runs, nobody reaches it.
    assert _cli(data_dir, "instance", "params", "--endpoint", "no-such-host.example")[0] == 0
    with SimFleet(tmp_path / "boards", count=1, pacing=False, registry=data_dir.sim_registry) as fleet:
        code, out = _provision(data_dir, fleet, "--wait-enrolled", "2", "--json")
        device_id = board_device_id(fleet.boards[0])
    assert code != 0
    (result,) = [
        json.loads(line)
        for line in out.splitlines()
        if '"type": "result"' in line or '"type":"result"' in line
    ]
    assert result["outcome"] == "fail" and result["step"] == "enrol"
    assert result["message"].startswith(
        "enrolment not confirmed: the board did not enrol within 2 s (still registered)"
    )
    device = instance.find_device(str(device_id))
    assert device is not None and device.state is DeviceState.REGISTERED


def test_provision_waiting_for_enrolment_serves_it_for_the_built_in_instance(
    prepared: tuple[DataDir, LocalInstance], tmp_path: Path
) -> None:
    data_dir, instance = prepared
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert _cli(data_dir, "instance", "params", "--endpoint", "localhost", "--port", str(port))[0] == 0
    with SimFleet(tmp_path / "boards", count=1, pacing=False, registry=data_dir.sim_registry) as fleet:
        code, out = _provision(data_dir, fleet, "--wait-enrolled", "30")
        device_id = board_device_id(fleet.boards[0])
    assert code == 0, out
    assert f"Enrolment service for devices at 127.0.0.1:{port} (TLS)" in out
    assert "1 of 1 board(s) passed" in out
    device = instance.find_device(str(device_id))
    assert device is not None and device.state is DeviceState.ENROLLED
    with socket.create_server(("127.0.0.1", port)):  # the command's service is gone with it
        pass
