"""Isolation every test gets: its own station data folder and a file-backed keyring.

Nothing a test does may reach a person's real data folder or OS keyring, in this process or in the
subprocesses it starts (CLI runs, port workers). So the environment is set, not only in-process state:
`QL_STATION_HOME` points at a fresh folder, and `PYTHON_KEYRING_BACKEND` names the test backend, with the
repository root on `PYTHONPATH` so a child can import it whatever its working folder.

Module- and session-scoped fixtures run before per-test ones, so a session-wide folder and keyring file
exist too. Each test's keyring file starts as a copy of the session one: a secret stored by a wider
fixture (say, the key protecting a module-wide instance) is visible in every test, while what one test
stores is gone in the next.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import keyring.core
import pytest
from keyring.backends import fail

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from app.system.paths import ENV_HOME  # noqa: E402

pytest_plugins = ["tests.support.leaks"]  # the `nothing_left_behind` fixture
from tests.support.file_keyring import DOTTED_NAME, ENV_FILE, FileKeyring  # noqa: E402

ENV_BACKEND = "PYTHON_KEYRING_BACKEND"
FAIL_BACKEND = "keyring.backends.fail.Keyring"


def _with_repo_root(pythonpath: str | None) -> str:
    parts = [p for p in (pythonpath or "").split(os.pathsep) if p]
    if str(REPO_ROOT) not in parts:
        parts.insert(0, str(REPO_ROOT))
    return os.pathsep.join(parts)


def _use_file_keyring(mp: pytest.MonkeyPatch, path: Path) -> FileKeyring:
    backend = FileKeyring(path)
    mp.setenv(ENV_FILE, str(path))
    mp.setenv(ENV_BACKEND, DOTTED_NAME)
    mp.setenv("PYTHONPATH", _with_repo_root(os.environ.get("PYTHONPATH")))
    # keyring keeps its chosen backend in this module global; monkeypatch restores the previous one.
    mp.setattr(keyring.core, "_keyring_backend", backend)
    return backend


@pytest.fixture(scope="session", autouse=True)
def _session_isolation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("session-isolation")
    with pytest.MonkeyPatch.context() as mp:
        home = root / "station-home"
        home.mkdir()
        mp.setenv(ENV_HOME, str(home))
        keyring_file = root / "keyring.json"
        _use_file_keyring(mp, keyring_file)
        yield keyring_file


@pytest.fixture(autouse=True)
def station_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's station data folder (also in `QL_STATION_HOME` for subprocesses)."""
    home = tmp_path_factory.mktemp("station-home")
    monkeypatch.setenv(ENV_HOME, str(home))
    return home


@pytest.fixture(autouse=True)
def file_keyring(
    _session_isolation: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> FileKeyring:
    """This test's keyring: a JSON file, used in-process and by every subprocess the test starts."""
    path = tmp_path_factory.mktemp("keyring") / "keyring.json"
    if _session_isolation.exists():
        shutil.copyfile(_session_isolation, path)
    return _use_file_keyring(monkeypatch, path)


@pytest.fixture
def no_keyring(file_keyring: FileKeyring, monkeypatch: pytest.MonkeyPatch) -> None:
    """No keyring backend at all (keyring's fail backend), in-process and in subprocesses."""
    monkeypatch.setenv(ENV_BACKEND, FAIL_BACKEND)
    monkeypatch.delenv(ENV_FILE, raising=False)
    monkeypatch.setattr(keyring.core, "_keyring_backend", fail.Keyring())
