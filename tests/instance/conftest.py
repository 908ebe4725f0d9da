"""Fixtures for the Instance contract suite and the local-instance tests.

The contract suite sees only `instance_factory`: a callable that opens the instance under test, as the
built-in local administrator or as a named user. It is parametrised over every implementation: "local"
opens the SQLite file directly; "remote" serves a fresh local instance over real HTTPS on loopback
(uvicorn on a thread, a certificate from the instance's own PKI) and talks to it with `RemoteInstance`,
trusting only that instance's root CA; "mirror" wraps each remote handle in a `MirrorInstance` with a
mirror file of its own (its offline behaviour is tested in tests/instance/mirror).
Helpers are reached through fixtures, not imports, so tests do not depend on how pytest names modules.

A remote handle for the built-in administrator gets its token from the serving process itself (as the
owner of the data folder may); a handle for a named user signs in over HTTP with CONTRACT_PASSWORD,
the password every contract test gives the users it creates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from app.domain.kinds import KeyType
from app.instance.api import Instance
from app.instance.local.instance import LocalInstance
from app.instance.mirror.instance import MirrorInstance
from app.instance.mirror.store import MirrorStore
from tests.support.served import ServedInstanceForTests

IMPLEMENTATIONS = ["local", "remote", "mirror"]
RSA_KEY = "rsa-module-key"


class LocalInstances:
    """Opens handles on one local instance database; every handle is closed at teardown."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "instance.sqlite3"
        self._opened: list[LocalInstance] = []

    def __call__(self, actor: str | None = None) -> Instance:
        instance = LocalInstance.open(self.path, actor=actor)
        self._opened.append(instance)
        return instance

    def close(self) -> None:
        for instance in self._opened:
            instance.close()


class RemoteInstances(ServedInstanceForTests):
    """The served instance of tests/support/served.py under the name the contract suite uses."""


class MirrorInstances(RemoteInstances):
    """Remote handles, each behind a `MirrorInstance` with a mirror file of its own (reads pass through)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self._stores: list[MirrorStore] = []

    def __call__(self, actor: str | None = None) -> Instance:
        remote = super().__call__(actor)
        store = MirrorStore(self.folder / f"mirror-{len(self._stores)}.sqlite3", self.url)
        self._stores.append(store)
        return MirrorInstance(remote, store)

    def close(self) -> None:
        for store in self._stores:
            store.close()
        super().close()


InstanceFactory = Callable[..., Instance]


def _factory(implementation: str, folder: Path) -> LocalInstances | RemoteInstances:
    if implementation == "local":
        return LocalInstances(folder)
    if implementation == "remote":
        return RemoteInstances(folder)
    if implementation == "mirror":
        return MirrorInstances(folder)
    raise AssertionError(f"unknown implementation {implementation!r}")


@pytest.fixture(scope="module", params=IMPLEMENTATIONS)
def implementation(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def instance_factory(implementation: str, tmp_path: Path) -> Iterator[InstanceFactory]:
    """`instance_factory(actor=None)` opens the instance under test (one fresh instance per test)."""
    factory = _factory(implementation, tmp_path)
    yield factory
    factory.close()


@pytest.fixture
def instance(instance_factory: InstanceFactory) -> Instance:
    return instance_factory()


@pytest.fixture(scope="module")
def signing_instance(implementation: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """One instance per module holding an RSA-3072 key named RSA_KEY: RSA generation takes seconds.

    Tests using it must not depend on what other tests added (use unique names).
    """
    factory = _factory(implementation, tmp_path_factory.mktemp("signing-instance"))
    instance = factory()
    instance.create_signing_key(RSA_KEY, KeyType.RSA_3072)
    yield instance
    factory.close()


@pytest.fixture(scope="session")
def rsa_key_name() -> str:
    return RSA_KEY


def make_device_ids(count: int, tag: str = "dev") -> list[str]:
    """Deterministic, distinct DeviceIDs (lowercase hex)."""
    return [hashlib.sha256(f"{tag}-{i}".encode()).hexdigest() for i in range(count)]


@pytest.fixture(scope="session")
def device_ids() -> Callable[..., list[str]]:
    """`device_ids(count, tag="dev")`: deterministic, distinct DeviceIDs."""
    return make_device_ids


@pytest.fixture
def remote_instances(tmp_path: Path) -> Iterator[RemoteInstances]:
    """A served local instance on loopback HTTPS (`.url`, `.ca_file`, `.served`) for tests of its clients."""
    served = RemoteInstances(tmp_path / "served")
    yield served
    served.close()


@pytest.fixture
def enrol_device(tmp_path: Path) -> Iterator[Callable[[str], None]]:
    """`enrol_device(device_id)`: the device enrols, as the enrolment service would make it, on the
    database behind the instance under test (every implementation keeps it in tmp_path)."""
    opened: list[LocalInstance] = []

    def enrol(device_id: str) -> None:
        if not opened:
            opened.append(LocalInstance.open(tmp_path / "instance.sqlite3"))
        key = ec.generate_private_key(ec.SECP256R1()).public_key()
        opened[0].device_enrolment().enrol(device_id, key)

    yield enrol
    for instance in opened:
        instance.close()
