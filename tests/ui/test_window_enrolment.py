"""The station window on the built-in instance serves enrolments (the real program in a subprocess):
a device in a batch enrols over TLS while the window runs, and the port is free once it has quit."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from app.cli import main as cli_main
from app.domain.kinds import DeviceState, Role
from app.instance.local.instance import LocalInstance
from app.sim.device_enrolment import EnrolFailure, enrol
from app.system.paths import DataDir
from tests.enrolment.conftest import new_keys

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "window enrolment test password"


def _login(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    out, err = io.StringIO(), io.StringIO()
    argv = ["--data-dir", str(home), "login", "--user", "alice", "--password-stdin"]
    assert cli_main.run(argv, out=out, err=err) == 0, err.getvalue()


def test_the_window_serves_enrolments_for_the_built_in_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    keys = new_keys()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with LocalInstance.open(DataDir(home).ensure().local_instance_db) as instance:
        instance.create_user("alice", PASSWORD, Role.ADMINISTRATOR)
        instance.set_instance_params("localhost", port)
        instance.create_batch("line")
        instance.add_devices("line", [keys.device_id])
        root = next(c.pem for c in instance.certificates() if c.role == "root")
    root_der = x509.load_pem_x509_certificate(root.encode()).public_bytes(serialization.Encoding.DER)
    _login(home, monkeypatch)  # the window opens on the kept sign-in, with no dialog
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"))
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "--data-dir", str(home), "gui"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                result = enrol(("127.0.0.1", port), "localhost", root_der, keys, log=lambda _t: None)
                break
            except EnrolFailure as failure:
                assert "connection refused" in str(failure), failure
                assert time.monotonic() < deadline, "the window never served enrolments"
                time.sleep(0.2)
        assert result.first
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    with socket.create_server(("127.0.0.1", port)):
        pass  # the service went with the window
    with LocalInstance.open(DataDir(home).local_instance_db) as instance:
        device = instance.find_device(keys.device_id)
        assert device is not None and device.state is DeviceState.ENROLLED
