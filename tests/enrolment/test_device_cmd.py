"""`ql-station device show|renew|revoke` on the built-in instance after a real enrolment over TLS, and on
an instance served by `ql-station serve` that the station signed in to."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from app.cli import main as cli_main
from app.domain.kinds import Role
from app.enrolment.runner import EnrolListen, start_enrolment
from app.instance.local.instance import LocalInstance
from app.sim.device_enrolment import enrol
from app.system.paths import DataDir
from tests.enrolment.conftest import new_keys
from tests.support.serve_process import start_serve


@pytest.fixture
def data_dir(tmp_path: Path) -> DataDir:
    return DataDir(tmp_path / "station").ensure()


def _cli(data_dir: DataDir, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli_main.run(["--data-dir", str(data_dir.root), *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def enrolled(data_dir: DataDir) -> Iterator[tuple[str, str]]:
    """A device enrolled on the data folder's instance: (DeviceID, certificate serial)."""
    keys = new_keys()
    with LocalInstance.open(data_dir.local_instance_db) as instance:
        instance.create_batch("line")
        instance.add_devices("line", [keys.device_id])
        root = next(c.pem for c in instance.certificates() if c.role == "root")
        der = x509.load_pem_x509_certificate(root.encode()).public_bytes(serialization.Encoding.DER)
        with start_enrolment(instance, EnrolListen("127.0.0.1", 0), data_dir.root) as service:
            result = enrol(("127.0.0.1", service.port), "localhost", der, keys, log=lambda _t: None)
            yield keys.device_id, result.serial


def test_show_prints_state_and_certificate(data_dir: DataDir, enrolled: tuple[str, str]) -> None:
    device_id, serial = enrolled
    code, out, err = _cli(data_dir, "device", "show", device_id)
    assert code == 0, err
    assert "State               enrolled" in out and f"Certificate serial  {serial}" in out
    code, out, _ = _cli(data_dir, "device", "show", device_id.upper(), "--json")
    shown = json.loads(out)
    assert shown["device"]["state"] == "enrolled" and shown["device"]["batch"] == "line"
    assert shown["certificate"]["serial"] == serial and shown["certificate"]["enrolments"] == 1
    assert "PRIVATE" not in out


def test_revoke_then_the_device_cannot_enrol(data_dir: DataDir, enrolled: tuple[str, str]) -> None:
    device_id, _ = enrolled
    code, out, _ = _cli(data_dir, "device", "revoke", device_id)
    assert code == 0 and f"device {device_id} revoked; it can no longer enrol" in out
    assert "was already revoked" in _cli(data_dir, "device", "revoke", device_id)[1]
    assert (
        json.loads(_cli(data_dir, "device", "show", device_id, "--json")[1])["device"]["state"] == "revoked"
    )


def test_unknown_and_malformed_ids(data_dir: DataDir) -> None:
    code, _, err = _cli(data_dir, "device", "show", "ab" * 32)
    assert code != 0 and f"device {'ab' * 32} is in no batch of this instance" in err
    code, _, err = _cli(data_dir, "device", "revoke", "not-an-id")
    assert code != 0 and "DeviceID" in err


def test_renew_then_show_says_renewed_with_the_new_serial(
    data_dir: DataDir, enrolled: tuple[str, str]
) -> None:
    device_id, serial = enrolled
    code, out, err = _cli(data_dir, "device", "renew", device_id)
    assert code == 0, err
    assert f"device {device_id} renewed: certificate serial" in out and serial not in out
    shown = json.loads(_cli(data_dir, "device", "show", device_id, "--json")[1])
    assert shown["device"]["state"] == shown["certificate"]["state"] == "renewed"
    assert shown["certificate"]["serial"] != serial and shown["certificate"]["enrolments"] == 1


def test_renew_is_refused_for_a_revoked_device_with_the_way_back(
    data_dir: DataDir, enrolled: tuple[str, str]
) -> None:
    device_id, _ = enrolled
    assert _cli(data_dir, "device", "revoke", device_id)[0] == 0
    code, _, err = _cli(data_dir, "device", "renew", device_id)
    assert code != 0 and "is revoked, so its certificate is not renewed; move it to a batch again" in err


def test_show_and_renew_work_against_a_served_instance(tmp_path: Path) -> None:
    """The station signed in to `ql-station serve` shows what the instance's lifecycle says."""
    server = DataDir(tmp_path / "instance-pc").ensure()
    keys = new_keys()
    with LocalInstance.open(server.local_instance_db) as instance:
        instance.create_user("alice", "alice on line one", Role.ADMINISTRATOR)
        instance.create_batch("line")
        instance.add_devices("line", [keys.device_id])
        instance.device_enrolment().enrol(keys.device_id, keys.device.public_key())
    running = start_serve(server.root)
    try:
        station = DataDir(tmp_path / "station").ensure()
        pairing = ("instance", "connect", running.url, "--fingerprint", running.fingerprint)
        code, out, err = _cli(station, *pairing)
        assert code == 0, out + err
        sys.stdin, saved = io.StringIO("alice on line one"), sys.stdin
        try:
            assert _cli(station, "login", "--user", "alice", "--password-stdin")[0] == 0
        finally:
            sys.stdin = saved
        code, out, err = _cli(station, "device", "show", keys.device_id)
        assert code == 0, err
        assert "State               enrolled" in out and "Certificate serial" in out
        assert "Last seen" in out and "Firmware            not reported" in out
        assert _cli(station, "device", "renew", keys.device_id)[0] == 0
        shown = json.loads(_cli(station, "device", "show", keys.device_id, "--json")[1])
        assert shown["certificate"]["state"] == "renewed"
    finally:
        running.stop()
