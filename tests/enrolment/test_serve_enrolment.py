"""`ql-station serve` runs the enrolment service beside its HTTPS server (a real process), and what it
does when the enrolment port is not free."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from app.domain.errors import ValidationError
from app.domain.kinds import DeviceState
from app.enrolment.runner import start_beside_server
from app.instance.local.instance import LocalInstance
from app.sim.device_enrolment import enrol
from app.system.paths import DataDir
from tests.enrolment.conftest import new_keys


def _serve(data_dir: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app",
            "--data-dir",
            str(data_dir),
            "serve",
            "--listen",
            "127.0.0.1:0",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    banner = ""
    assert process.stdout is not None and process.stderr is not None
    while "Stop with Ctrl-C." not in banner:
        line = process.stdout.readline()
        if not line:
            process.wait(10)
            return process, banner + process.stderr.read()
        banner += line
    return process, banner


def test_serve_enrols_devices_on_the_port_it_prints(tmp_path: Path) -> None:
    data_dir = tmp_path / "served"
    db = DataDir(data_dir).local_instance_db
    keys = new_keys()
    with LocalInstance.open(db) as instance:
        instance.create_batch("line")
        instance.add_devices("line", [keys.device_id])
        root_pem = next(c.pem for c in instance.certificates() if c.role == "root")
    root_der = x509.load_pem_x509_certificate(root_pem.encode()).public_bytes(serialization.Encoding.DER)
    process, banner = _serve(data_dir, "--enrol-listen", "127.0.0.1:0")
    try:
        found = re.search(r"Enrolment service for devices at 127\.0\.0\.1:(\d+) \(TLS\)", banner)
        assert found, banner
        result = enrol(("127.0.0.1", int(found.group(1))), "localhost", root_der, keys, log=lambda _t: None)
        assert result.first
    finally:
        process.terminate()
        process.wait(15)
    assert process.returncode == 0
    with LocalInstance.open(db) as instance:
        device = instance.find_device(keys.device_id)
        assert device is not None and device.state is DeviceState.ENROLLED
    assert not list(data_dir.rglob(".enrol-*")), "the service's key file was left on disk"


def test_serve_refuses_an_enrolment_address_it_cannot_listen_on(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        process, output = _serve(tmp_path / "d", "--enrol-listen", f"127.0.0.1:{port}")
    assert process.returncode == 2, output
    assert f"cannot listen for enrolments on 127.0.0.1:{port}" in output


def test_without_a_choice_a_taken_instance_port_leaves_https_serving_and_says_so(tmp_path: Path) -> None:
    with (
        LocalInstance.open(tmp_path / "instance.sqlite3") as instance,
        socket.create_server(("127.0.0.1", 0)) as taken,
    ):
        port = taken.getsockname()[1]
        instance.set_instance_params("localhost", port)
        beside = start_beside_server(instance, None, tmp_path)
        assert beside.service is None
        assert (
            f"Enrolment service NOT running: cannot listen for enrolments on 127.0.0.1:{port}"
            in beside.banner
        )
        assert "--enrol-listen HOST:PORT" in beside.banner
        assert start_beside_server(instance, "off", tmp_path).service is None
        with pytest.raises(ValidationError, match="--enrol-listen takes HOST:PORT"):
            start_beside_server(instance, "nowhere:port", tmp_path)
