"""Fixtures shared by the simulator tests: Secure Boot V2 keys made in the test, and espsecure signing.

Helpers are reached through fixtures (not imports) so the tests do not depend on how pytest puts the
tests folder on sys.path.
"""

from __future__ import annotations

import base64
import datetime
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.domain.chips import FACTORY_APP_OFFSET, PARTITION_TABLE_OFFSET, ChipType
from app.domain.kinds import BootloaderKind, IefKind
from app.sim.fleet import SimFleet
from app.sim.images import build_sim_bootloader, build_sim_ief, build_sim_partition_table
from app.sim.run_context import AccessPoint
from tests.sim.sim_host import FAST_IEF, SecureBootV2
from tests.support.keys import write_rsa_key


@pytest.fixture(scope="session")
def _sbv2_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("sbv2-keys")
    return write_rsa_key(folder / "station.pem"), write_rsa_key(folder / "other.pem")


@pytest.fixture
def sbv2(_sbv2_keys: tuple[Path, Path], tmp_path: Path) -> SecureBootV2:
    work = tmp_path / "sbv2"
    work.mkdir()
    return SecureBootV2(_sbv2_keys[0], _sbv2_keys[1], work)


# --------------------------------------------------------------------------- host side helpers


@pytest.fixture(scope="session")
def root_ca_b64() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sim test root")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))
        .not_valid_after(datetime.datetime(2034, 1, 1, tzinfo=datetime.UTC))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM))


@pytest.fixture
def access_point() -> AccessPoint:
    return AccessPoint(ssid=f"test-ap-{secrets.token_hex(2)}", password=secrets.token_urlsafe(10))


@pytest.fixture
def answers(root_ca_b64: bytes, access_point: AccessPoint) -> dict[str, bytes]:
    return {
        "ql_rootCA": root_ca_b64,
        "ql_endpoint": b"ql.example.test",
        "ql_port": b"6000",
        "wifi_ssid": access_point.ssid.encode(),
        "wifi_password": access_point.password.encode(),
    }


@pytest.fixture
def make_fleet(tmp_path: Path, access_point: AccessPoint) -> Iterator[Callable[..., SimFleet]]:
    """Start fleets (pacing off, quick IEF timings by default); every one is closed after the test."""
    fleets: list[SimFleet] = []

    def make(state_root: Path | None = None, **kwargs: Any) -> SimFleet:
        kwargs.setdefault("pacing", False)
        kwargs.setdefault("ief_settings", FAST_IEF)
        kwargs.setdefault("access_point", access_point)
        fleet = SimFleet(state_root or tmp_path / "boards", **kwargs)
        fleets.append(fleet)
        return fleet

    yield make
    for fleet in fleets:
        fleet.close()


@pytest.fixture(autouse=True)
def _no_board_threads_left() -> Iterator[None]:
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        alive = [t.name for t in threading.enumerate() if t.name.startswith("sim-")]
        if not alive:
            return
        time.sleep(0.05)
    raise AssertionError(f"virtual board threads still running after the test: {alive}")


@pytest.fixture
def signed_images(sbv2: SecureBootV2) -> Callable[..., list[tuple[int, bytes]]]:
    """The three task images for a chip, bootloader and IEF signed with the test key."""

    def build(
        chip: ChipType,
        bootloader: BootloaderKind = BootloaderKind.RELEASE,
        ief: IefKind = IefKind.DEBUG,
        key: Path | None = None,
    ) -> list[tuple[int, bytes]]:
        return [
            (chip.bootloader_offset, sbv2.sign(build_sim_bootloader(chip, bootloader), key)),
            (PARTITION_TABLE_OFFSET, build_sim_partition_table(chip)),
            (FACTORY_APP_OFFSET, sbv2.sign(build_sim_ief(chip, ief), key)),
        ]

    return build
