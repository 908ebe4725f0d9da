"""Fixtures for the flashing tests: a Secure Boot V2 signing key, and the esp32-mock-bootloader peer."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.keys import write_rsa_key


@pytest.fixture(scope="session")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An RSA-3072 Secure Boot V2 key made for this test session, never committed."""
    return write_rsa_key(tmp_path_factory.mktemp("keys") / "sbv2.pem")


@dataclass
class MockPeer:
    """A running esp32-mock-bootloader process (the independent ROM-bootloader peer)."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_mock_peer(chip: str, workdir: Path) -> MockPeer:
    """Start `esp32-mock-bootloader run` on a free port and wait until it listens."""
    port = free_port()
    log = workdir / f"mock-{chip}-{port}.log"
    exe = Path(sys.executable).with_name("esp32-mock-bootloader")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(exe), "run", "--chip", chip, "--port", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    peer = MockPeer(process, port, log)
    deadline = time.monotonic() + 20
    while b"listening on" not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            peer.stop()
            raise RuntimeError(f"esp32-mock-bootloader did not start: {log.read_text(errors='replace')}")
        time.sleep(0.05)
    return peer


@pytest.fixture
def mock_c3(tmp_path: Path) -> Iterator[MockPeer]:
    peer = start_mock_peer("esp32c3", tmp_path)
    try:
        yield peer
    finally:
        peer.stop()


@pytest.fixture
def mock_s3(tmp_path: Path) -> Iterator[MockPeer]:
    peer = start_mock_peer("esp32s3", tmp_path)
    try:
        yield peer
    finally:
        peer.stop()
