"""A locked instance database or an unusable data folder is `error: <sentence>` and exit 2, no traceback.

The lock is real: a second SQLite connection (the stdlib's, as another program would hold it) takes the
write lock with `BEGIN IMMEDIATE` and keeps it. `QL_STATION_BUSY_TIMEOUT_MS` keeps the wait short.
"""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.system.paths import DataDir
from app.system.sqlite_errors import ENV_BUSY_TIMEOUT
from tests.cli.conftest import Cli
from tests.system.permission_probe import needs_file_modes

LOCKED = "is locked by another program (another ql-station?); try again when it has finished"


@pytest.fixture
def locked_instance(cli: Cli, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An instance with a key, a task and a batch, whose database another program holds locked."""
    assert cli("key", "create", "k", "--type", "rsa-3072").code == 0
    task = ["task", "create", "t", "--device-type", "esp32c3", "--bootloader", "dev", "--ief", "debug"]
    assert cli(*task, "--key", "k").code == 0
    assert cli("batch", "create", "line-1").code == 0
    monkeypatch.setenv(ENV_BUSY_TIMEOUT, "150")
    path = DataDir(data_dir).local_instance_db
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield path
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.mark.parametrize(
    "argv",
    [
        ("batch", "create", "line-2"),
        ("key", "create", "k2", "--type", "ecdsa-p256"),
        ("batch", "add", "line-1", "--device", "ab" * 32),
    ],
)
def test_a_locked_instance_is_a_sentence(cli: Cli, locked_instance: Path, argv: tuple[str, ...]) -> None:
    result = cli(*argv)
    assert result.code == 2, result.err
    assert result.err == f"error: the instance database {locked_instance} {LOCKED}\n"


def test_reads_go_on_while_another_program_writes(cli: Cli, locked_instance: Path) -> None:
    listed = cli("batch", "list")
    assert listed.code == 0, listed.err
    assert "line-1" in listed.out


def test_provision_with_a_locked_instance_is_a_sentence(cli: Cli, locked_instance: Path) -> None:
    argv = ["provision", "--task", "t", "--batch", "line-1", "--ssid", "lab", "--password-stdin"]
    result = cli(*argv, "--port", "rfc2217://127.0.0.1:9", stdin="password123\n")
    assert result.code == 2, result.err
    assert result.err == f"error: the instance database {locked_instance} {LOCKED}\n"


def test_data_folder_under_a_file(cli: Cli, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    result = cli("--data-dir", str(blocker / "station"), "batch", "list")
    assert result.code == 2
    assert result.err.startswith(f"error: cannot write the station data folder {blocker / 'station'}: ")
    assert "a file stands where a folder is needed" in result.err


@needs_file_modes
def test_read_only_data_folder(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "station"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        result = cli("--data-dir", str(folder), "batch", "list")
    finally:
        folder.chmod(0o700)
    assert result.code == 2
    assert result.err.startswith("error: cannot write the folder of the instance database ")
    assert f"give this user write access to {folder}" in result.err


def test_the_data_folder_is_private(cli: Cli, data_dir: Path) -> None:
    assert cli("batch", "list").code == 0
    data = DataDir(data_dir)
    assert stat.S_IMODE(data.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(data.local_instance_db.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(data.local_instance_db.stat().st_mode) == 0o600
