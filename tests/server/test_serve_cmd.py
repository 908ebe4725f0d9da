"""`ql-station serve` as a real process: what it prints, whom its TLS convinces, how it stops."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from app.domain.kinds import Role
from app.instance.local.instance import LocalInstance
from app.instance.remote.connection import Connection, UntrustedInstanceError
from app.instance.remote.instance import RemoteInstance
from app.system.paths import DataDir
from tests.support.serve_process import start_serve

PASSWORD = "serve test password"


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    fingerprint: str
    banner: str
    data_dir: Path


def _root_pem(db: Path) -> str:
    with LocalInstance.open(db) as instance:
        return next(c.pem for c in instance.certificates() if c.role == "root")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    data_dir = tmp_path / "server-data"
    with LocalInstance.open(DataDir(data_dir).local_instance_db) as instance:
        instance.create_user("alice", PASSWORD, Role.ADMINISTRATOR)
    running = start_serve(data_dir, "--hostname", "localhost")
    yield Served(running.process, running.url, running.fingerprint, running.banner, data_dir)
    if running.process.poll() is None:  # a test that stopped it has read its output already
        running.kill()


def test_serve_prints_its_url_and_the_root_fingerprint_and_verifies_against_it(
    served: Served, tmp_path: Path
) -> None:
    db = DataDir(served.data_dir).local_instance_db
    with LocalInstance.open(db) as instance:
        root = next(c for c in instance.certificates() if c.role == "root")
    assert served.fingerprint == root.fingerprint_sha256
    assert served.url.startswith("https://127.0.0.1:")
    assert "Certificate names: localhost, 127.0.0.1" in served.banner
    ca_file = tmp_path / "paired.pem"
    ca_file.write_text(root.pem)
    with RemoteInstance.sign_in(served.url, ca_file, "alice", PASSWORD) as alice:
        assert (alice.info().actor, alice.info().kind, alice.info().location) == (
            "alice",
            "remote",
            served.url,
        )
    port = served.url.rsplit(":", 1)[1]
    by_name = requests.get(f"https://localhost:{port}/openapi.json", verify=str(ca_file), timeout=10)
    assert by_name.status_code == 200


def test_a_client_paired_with_another_instance_is_refused_whatever_the_environment(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_ca = tmp_path / "other.pem"
    other_ca.write_text(_root_pem(tmp_path / "other" / "instance.sqlite3"))
    with pytest.raises(
        UntrustedInstanceError, match=r"is not the paired instance.*CERTIFICATE_VERIFY_FAILED"
    ):
        RemoteInstance.sign_in(served.url, other_ca, "alice", PASSWORD)
    right_ca = tmp_path / "right.pem"
    right_ca.write_text(_root_pem(DataDir(served.data_dir).local_instance_db))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other_ca))  # must not replace the paired CA
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nor route through a proxy
    with RemoteInstance.sign_in(served.url, right_ca, "alice", PASSWORD) as alice:
        assert alice.info().actor == "alice"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(right_ca))
    with pytest.raises(UntrustedInstanceError):
        Connection(served.url, other_ca).request("GET", "/openapi.json")


def test_sigterm_stops_it_cleanly_and_no_key_is_left_or_printed(served: Served) -> None:
    served.process.send_signal(signal.SIGTERM)
    out, err = served.process.communicate(timeout=15)
    assert served.process.returncode == 0, err
    assert "Stopped." in out
    for text in (served.banner, out, err):
        assert "PRIVATE KEY" not in text
    leftovers = [p.name for p in served.data_dir.rglob(".serve-*")]
    assert leftovers == []
    port = int(served.url.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_ctrl_c_stops_it_with_exit_0(served: Served) -> None:
    time.sleep(0.1)
    served.process.send_signal(signal.SIGINT)
    served.process.communicate(timeout=15)
    assert served.process.returncode == 0


def test_a_bad_listen_address_is_a_sentence(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(tmp_path / "d"), "serve", "--listen", "nowhere:port"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ,
    )
    assert done.returncode != 0
    assert "--listen takes HOST:PORT (e.g. 0.0.0.0:8443); got 'nowhere:port'" in done.stderr
