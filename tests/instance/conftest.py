"""Fixtures for the Instance contract suite and the local-instance tests.

The contract suite sees only `instance_factory`: a callable that opens the instance under test, as the
built-in local administrator or as a named user. It is parametrised over every implementation (today
the local one; the remote client and the offline mirror join by adding an entry to IMPLEMENTATIONS).
Helpers are reached through fixtures, not imports, so tests do not depend on how pytest names modules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.domain.kinds import KeyType
from app.instance.api import Instance
from app.instance.local.instance import LocalInstance

IMPLEMENTATIONS = ["local"]
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


InstanceFactory = Callable[..., Instance]


def _factory(implementation: str, folder: Path) -> LocalInstances:
    if implementation == "local":
        return LocalInstances(folder)
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
