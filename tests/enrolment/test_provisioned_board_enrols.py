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
from typing import Any, cast

import pytest
from cryptography import x509

from app.cli import main as cli_main
from app.domain.kinds import DeviceState
from app.enrolment.runner import EnrolListen, start_enrolment
from app.instance.local.instance import LocalInstance
from app.provisioning.records import RecordsDB
from app.sim.faults import Faults
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
    assert result["outcome"] == "pass" and result["message"].endswith("; enrolled, firmware sim-1"), result
    (passed,) = [e for e in enrol_steps if e["status"] == "passed"]
    assert passed["facts"] == {"enrolled": True, "firmware": "sim-1"}
    device = instance.find_device(str(device_id))
    assert device is not None and device.state is DeviceState.ENROLLED


def test_a_board_that_cannot_enrol_fails_with_enrolment_not_confirmed(
    station: tuple[DataDir, LocalInstance, int], tmp_path: Path
) -> None:
    data_dir, instance, _port = station
    # Boards are sent to a host the simulated network cannot resolve: the service runs, nobody reaches it.
    assert _cli(data_dir, "instance", "params", "--endpoint", "no-such-host.example")[0] == 0
    with SimFleet(tmp_path / "boards", count=1, pacing=False, registry=data_dir.sim_registry) as fleet:
        started = time.monotonic()
        code, out = _provision(data_dir, fleet, "--wait-enrolled", "40", "--json")
        device_id = board_device_id(fleet.boards[0])
    assert code != 0
    result = _result(out)
    assert result["outcome"] == "fail" and result["step"] == "enrol"
    assert result["message"] == (
        "not enrolled: the board could not enrol: cannot resolve 'no-such-host.example': host not found (DNS "
        "lookup failed) (the endpoint given to the board is not a name its network knows)"
    )
    assert time.monotonic() - started < 30, "the board's repeated reason ends the wait; 40 s are not sat out"
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


def _result(out: str) -> dict[str, Any]:
    (result,) = [e for e in map(json.loads, filter(None, out.splitlines())) if e.get("type") == "result"]
    return cast(dict[str, Any], result)


def test_the_pass_line_says_enrolled_with_the_firmware_by_default(
    station: tuple[DataDir, LocalInstance, int], tmp_path: Path
) -> None:
    """The task waits for enrolment unless told otherwise: no option needed."""
    data_dir, _instance, _port = station
    with SimFleet(tmp_path / "boards", count=1, pacing=False, registry=data_dir.sim_registry) as fleet:
        code, out = _provision(data_dir, fleet)
        url = fleet.urls[0]
    assert code == 0, out
    assert any(
        line.startswith(url) and "enrol   ok     enrolled, firmware sim-1" in line
        for line in out.splitlines()
    )
    assert "1 of 1 board(s) passed" in out
    with RecordsDB(data_dir.records_db) as records:
        (record,) = records.iterate()
    assert ("enrol", "passed", "enrolled, firmware sim-1") in [
        (e.step, e.status, e.message) for e in record.step_log
    ]


def test_a_wrong_root_ca_fails_with_the_boards_reason(
    station: tuple[DataDir, LocalInstance, int], tmp_path: Path
) -> None:
    """The boards are sent to another instance's enrolment service: its TLS certificate is not signed by
    the root CA they were given."""
    data_dir, _instance, _port = station
    other = DataDir(tmp_path / "other-instance").ensure()
    with LocalInstance.open(other.local_instance_db) as stranger:
        service = start_enrolment(stranger, EnrolListen("127.0.0.1", 0), other.root)
        try:
            assert _cli(data_dir, "instance", "params", "--port", str(service.port))[0] == 0
            with SimFleet(
                tmp_path / "boards", count=1, pacing=False, registry=data_dir.sim_registry
            ) as fleet:
                code, out = _provision(data_dir, fleet, "--enrol-wait", "40")
        finally:
            service.stop()
    assert code == 1, out
    assert "0 of 1 board(s) passed" in out
    failed = (
        "enrol   FAILED not enrolled: the board could not enrol: TLS handshake failed: server certificate"
    )
    assert f"{failed} not trusted by ql_rootCA" in out
    assert "(the root CA given to the board does not sign the instance's TLS certificate)" in out


def test_a_wrong_port_fails_with_the_boards_reason(
    station: tuple[DataDir, LocalInstance, int], tmp_path: Path
) -> None:
    """The boards are told a port where nothing listens (held bound, so the command cannot serve there)."""
    data_dir, _instance, _port = station
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        closed = held.getsockname()[1]
        assert _cli(data_dir, "instance", "params", "--port", str(closed))[0] == 0
        with SimFleet(tmp_path / "boards", count=1, pacing=False, registry=data_dir.sim_registry) as fleet:
            code, out = _provision(data_dir, fleet, "--enrol-wait", "40", "--json")
    assert code == 1, out
    result = _result(out)
    assert (result["outcome"], result["step"]) == ("fail", "enrol")
    assert result["message"] == (
        f"not enrolled: the board could not enrol: connect to 127.0.0.1:{closed} failed: connection refused "
        "(nothing listens on the endpoint and port given to the board)"
    )


def test_a_deviceid_corrupted_on_the_uart_fails_and_says_so(
    station: tuple[DataDir, LocalInstance, int], tmp_path: Path
) -> None:
    """The board sends a damaged ID (both copies agree, so the station pushes it) and enrols with its real
    key: the service finds that one in no batch, and the run says the ID was damaged."""
    data_dir, instance, _port = station
    with SimFleet(
        tmp_path / "boards",
        count=1,
        pacing=False,
        registry=data_dir.sim_registry,
        faults=[Faults(corrupt_device_id=True)],
    ) as fleet:
        code, out = _provision(data_dir, fleet, "--enrol-wait", "40", "--json")
        real_id = board_device_id(fleet.boards[0])
    assert code == 1, out
    result = _result(out)
    pushed = result["device_id"]
    assert pushed != real_id and instance.find_device(pushed) is not None, "the damaged ID is what was pushed"
    assert (result["outcome"], result["step"]) == ("fail", "enrol")
    assert result["message"].startswith(
        "not enrolled: DeviceID damaged on the UART: the board enrols as a DeviceID that is in no batch, not "
        f"as the {pushed[:16]}… pushed"
    )
    assert "remove it from the batch and provision the board again" in result["message"]


def _reenrol(data_dir: DataDir, fleet: SimFleet, batch: str, *extra: str) -> tuple[int, str]:
    ap = fleet.access_point
    argv = ["reenrol", "--port", fleet.urls[0], "--batch", batch, "--ssid", ap.ssid, "--password-stdin"]
    return _cli(data_dir, *argv, *extra, stdin=ap.password + "\n")


def test_a_reenrolment_passes_once_the_board_reconnected_and_is_enrolled(
    station: tuple[DataDir, LocalInstance, int], tmp_path: Path
) -> None:
    """The board was Enrolled before it was re-enrolled (a move keeps the state): its PASS waits until
    the instance has seen it again, after it was reset and served, now in the new batch."""
    data_dir, instance, _port = station
    assert _cli(data_dir, "batch", "create", "field")[0] == 0
    with SimFleet(tmp_path / "boards", count=1, pacing=False, registry=data_dir.sim_registry) as fleet:
        assert _provision(data_dir, fleet, "--enrol-wait", "30")[0] == 0
        device_id = str(board_device_id(fleet.boards[0]))
        before = instance.device_certificate(device_id)
        assert before is not None
        code, out = _reenrol(data_dir, fleet, "field", "--enrol-wait", "30", "--json")
    assert code == 0, out
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    enrol_steps = [e["status"] for e in events if e["type"] == "step" and e["step"] == "enrol"]
    assert enrol_steps == ["started", "passed"], out
    result = _result(out)
    assert result["outcome"] == "pass" and result["message"].endswith("; enrolled, firmware sim-1"), result
    after = instance.device_certificate(device_id)
    assert after is not None and after.enrolled_at > before.enrolled_at, "the board reached the instance"
    device = instance.find_device(device_id)
    assert device is not None and device.batch == "field" and device.state is DeviceState.ENROLLED
    with RecordsDB(data_dir.records_db) as records:
        reenrolled = [r for r in records.iterate() if r.mode == "reenrol"]
    assert [r.outcome.value for r in reenrolled] == ["pass"]
    assert ("enrol", "passed", "enrolled, firmware sim-1") in [
        (e.step, e.status, e.message) for e in reenrolled[0].step_log
    ]


def test_a_reenrolled_board_that_cannot_reach_the_instance_fails_though_it_was_enrolled_before(
    prepared: tuple[DataDir, LocalInstance], tmp_path: Path
) -> None:
    """Enrolled from its provisioning, the board is re-enrolled after the instance's enrolment service
    moved to another port (the board keeps the one it was given): Enrolled from before is no PASS."""
    data_dir, instance = prepared
    assert _cli(data_dir, "batch", "create", "field")[0] == 0
    service = start_enrolment(instance, EnrolListen("127.0.0.1", 0), data_dir.root)
    port = service.port
    try:
        assert _cli(data_dir, "instance", "params", "--endpoint", "127.0.0.1", "--port", str(port))[0] == 0
        with SimFleet(tmp_path / "boards", count=1, pacing=False, registry=data_dir.sim_registry) as fleet:
            assert _provision(data_dir, fleet, "--enrol-wait", "30")[0] == 0
            service.stop()
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                moved = probe.getsockname()[1]
            assert _cli(data_dir, "instance", "params", "--port", str(moved))[0] == 0
            code, out = _reenrol(data_dir, fleet, "field", "--enrol-wait", "40", "--json")
            device_id = str(board_device_id(fleet.boards[0]))
    finally:
        service.stop()
    assert code == 1, out
    result = _result(out)
    assert (result["outcome"], result["step"]) == ("fail", "enrol"), result
    assert result["message"] == (
        f"not enrolled: the board could not enrol: connect to 127.0.0.1:{port} failed: connection refused "
        "(nothing listens on the endpoint and port given to the board)"
    )
    device = instance.find_device(device_id)
    assert device is not None and device.state is DeviceState.ENROLLED and device.batch == "field"


def test_reenrol_without_waiting_passes_at_the_push(
    station: tuple[DataDir, LocalInstance, int], tmp_path: Path
) -> None:
    data_dir, _instance, _port = station
    assert _cli(data_dir, "batch", "create", "field")[0] == 0
    with SimFleet(tmp_path / "boards", count=1, pacing=False, registry=data_dir.sim_registry) as fleet:
        assert _provision(data_dir, fleet, "--no-wait-enrolled")[0] == 0
        code, out = _reenrol(data_dir, fleet, "field", "--no-wait-enrolled", "--json")
    assert code == 0, out
    assert not [e for e in map(json.loads, filter(None, out.splitlines())) if e.get("step") == "enrol"]
