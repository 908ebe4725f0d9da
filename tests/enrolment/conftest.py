"""A real local instance with its enrolment service on loopback TLS, and devices that speak to it.

Devices are the virtual boards' own device side (`app.sim.device_enrolment.enrol`), given keys made
here; hostile peers write raw lines over a TLS connection that trusts the instance's root CA.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.enrolment.runner import EnrolListen, start_enrolment
from app.enrolment.service import EnrolmentService
from app.instance.local.instance import LocalInstance
from app.sim.device_enrolment import DeviceKeys, Enrolled, enrol


def new_keys() -> DeviceKeys:
    return DeviceKeys(ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1()))


@dataclass
class Site:
    instance: LocalInstance
    service: EnrolmentService
    root_der: bytes
    batch: str
    lines: list[str]

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.service.port)

    def device(self, *, in_batch: bool = True) -> DeviceKeys:
        keys = new_keys()
        if in_batch:
            self.instance.add_devices(self.batch, [keys.device_id])
        return keys

    def enrol(self, keys: DeviceKeys, *, root_der: bytes | None = None, port: int | None = None) -> Enrolled:
        return enrol(
            ("127.0.0.1", port or self.service.port),
            "localhost",
            root_der or self.root_der,
            keys,
            log=self.lines.append,
        )

    def raw(self) -> RawPeer:
        context = ssl.create_default_context(cadata=self.root_der)
        sock = socket.create_connection(self.address, timeout=10)
        return RawPeer(context.wrap_socket(sock, server_hostname="localhost"))


class RawPeer:
    """A TLS peer that sends whatever bytes a test gives it and reads the service's answers."""

    def __init__(self, tls: ssl.SSLSocket) -> None:
        self.tls = tls
        self.reader = tls.makefile("rb")

    def send(self, data: bytes) -> None:
        self.tls.sendall(data)

    def send_json(self, message: object) -> None:
        self.send(json.dumps(message).encode() + b"\n")

    def answer(self) -> dict[str, object]:
        line = self.reader.readline(65536)
        assert line.endswith(b"\n"), f"no answer line: {line!r}"
        value = json.loads(line)
        assert isinstance(value, dict)
        return value

    def closed_by_service(self) -> bool:
        try:
            return self.reader.readline() == b""
        except (ssl.SSLError, OSError):
            return True

    def close(self) -> None:
        self.reader.close()
        self.tls.close()


def hello(keys: DeviceKeys) -> dict[str, object]:
    import base64

    return {
        "type": "hello",
        "version": 1,
        "device_id": keys.device_id,
        "epk": base64.b64encode(keys.epk_der).decode(),
    }


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalInstance]:
    folder = tmp_path_factory.mktemp("enrol-instance")
    with LocalInstance.open(folder / "instance.sqlite3") as opened:
        yield opened


@pytest.fixture
def site(instance: LocalInstance, tmp_path: Path) -> Iterator[Site]:
    root = next(c for c in instance.certificates() if c.role == "root")
    root_der = x509.load_pem_x509_certificate(root.pem.encode()).public_bytes(serialization.Encoding.DER)
    batch = instance.create_batch(f"enrol-{secrets.token_hex(4)}").name
    service = start_enrolment(instance, EnrolListen("127.0.0.1", 0), tmp_path, line_timeout=2.0)
    try:
        yield Site(instance, service, root_der, batch, [])
    finally:
        service.stop()
