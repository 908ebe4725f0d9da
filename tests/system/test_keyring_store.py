"""KeyringStore against the suite's file keyring, the fail backend, and a backend that breaks.

The subprocess tests also prove the root conftest's promise: a child started from the repository (as
the CLI tests do) uses the test keyring and the test data folder, never the real ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keyring.core
import pytest
from keyring.backend import KeyringBackend
from keyring.compat import properties
from keyring.errors import KeyringLocked

from app.domain.errors import SecretUnavailableError
from app.system.keyring_store import SERVICE, KeyringStore

REPO_ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret-Value-that-must-not-leak"


class _LockedKeyring(KeyringBackend):
    """A real-looking backend whose every call fails, as a locked Secret Service collection does."""

    @properties.classproperty
    def priority(cls) -> float:
        return 5.0

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("Failed to unlock the collection!")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked(f"could not store {password}")

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringLocked("Failed to unlock the collection!")


class _ForgetfulKeyring(KeyringBackend):
    """Accepts secrets and drops them, like a misconfigured backend."""

    @properties.classproperty
    def priority(cls) -> float:
        return 1.0

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        return None

    def delete_password(self, service: str, username: str) -> None:
        return None


def _run_child(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_round_trip_writes_to_the_test_file() -> None:
    store = KeyringStore()
    assert store.available()
    assert store.get("wifi:lab") is None
    store.set("wifi:lab", SECRET)
    assert store.get("wifi:lab") == SECRET
    on_disk = json.loads(Path(os.environ["QL_TEST_KEYRING_FILE"]).read_text(encoding="utf-8"))
    assert on_disk[SERVICE]["wifi:lab"] == SECRET
    store.set("wifi:lab", "replaced")
    assert store.get("wifi:lab") == "replaced"
    store.delete("wifi:lab")
    assert store.get("wifi:lab") is None
    store.delete("wifi:lab")  # absent: not an error


def test_services_are_separate() -> None:
    KeyringStore("ql-station-a").set("acct", "one")
    KeyringStore("ql-station-b").set("acct", "two")
    assert KeyringStore("ql-station-a").get("acct") == "one"
    assert KeyringStore("ql-station-b").get("acct") == "two"
    assert KeyringStore().get("acct") is None


def test_each_test_starts_with_an_empty_keyring() -> None:
    # test_services_are_separate (run just before) stored this entry and left it there.
    assert KeyringStore("ql-station-a").get("acct") is None


@pytest.mark.usefixtures("no_keyring")
def test_unavailable_backend() -> None:
    store = KeyringStore()
    assert not store.available()
    with pytest.raises(SecretUnavailableError, match="no OS keyring is available on this computer"):
        store.set("wifi:lab", SECRET)
    with pytest.raises(SecretUnavailableError, match="no OS keyring is available"):
        store.get("wifi:lab")
    store.delete("wifi:lab")  # nothing can be stored, so nothing to delete


def test_locked_backend_errors_name_the_account_not_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring.core, "_keyring_backend", _LockedKeyring())
    store = KeyringStore()
    assert not store.available()
    with pytest.raises(SecretUnavailableError) as raised:
        store.set("wifi:lab", SECRET)
    message = str(raised.value)
    assert "could not store 'wifi:lab' in the OS keyring" in message
    assert "KeyringLocked" in message
    assert SECRET not in message
    with pytest.raises(SecretUnavailableError, match=r"could not read 'wifi:lab'.*Failed to unlock"):
        store.get("wifi:lab")
    with pytest.raises(SecretUnavailableError, match="could not delete 'wifi:lab'"):
        store.delete("wifi:lab")


def test_backend_that_drops_secrets_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring.core, "_keyring_backend", _ForgetfulKeyring())
    with pytest.raises(SecretUnavailableError, match="accepted 'k' but does not give it back") as raised:
        KeyringStore().set("k", SECRET)
    assert SECRET not in str(raised.value)


def test_repr_shows_no_secret() -> None:
    store = KeyringStore()
    store.set("k", SECRET)
    assert SECRET not in repr(store)


def test_subprocess_uses_the_test_keyring_and_data_folder(station_home: Path) -> None:
    KeyringStore().set("from-parent", SECRET)
    child = _run_child(
        "import os, keyring\n"
        "from app.system.keyring_store import KeyringStore\n"
        "from app.system.paths import resolve_data_dir\n"
        "print(type(keyring.get_keyring()).__name__)\n"
        "print(KeyringStore().get('from-parent') == " + repr(SECRET) + ")\n"
        "KeyringStore().set('from-child', 'child-value')\n"
        "print(resolve_data_dir())\n"
    )
    assert child.returncode == 0, child.stderr
    backend, matched, data_dir = child.stdout.splitlines()
    assert backend == "FileKeyring"
    assert matched == "True"
    assert Path(data_dir) == station_home.resolve()
    assert KeyringStore().get("from-child") == "child-value"


@pytest.mark.parametrize("where", ["repository", "elsewhere"])
def test_python_dash_m_reads_the_test_keyring(where: str, tmp_path: Path) -> None:
    KeyringStore().set("dash-m", "visible")
    child = subprocess.run(
        [sys.executable, "-m", "keyring", "get", SERVICE, "dash-m"],
        cwd=REPO_ROOT if where == "repository" else tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "visible"


@pytest.mark.usefixtures("no_keyring")
def test_subprocess_sees_no_keyring_too() -> None:
    child = _run_child(
        "from app.system.keyring_store import KeyringStore\nprint(KeyringStore().available())\n"
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "False"
