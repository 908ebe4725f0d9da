"""The data folder and the station's databases are private to the user, whatever the umask says."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain.chips import ChipType
from app.domain.errors import StorageError
from app.sim.board_state import BoardState
from app.sim.efuses import EfuseState
from app.system.paths import DataDir
from app.system.private_files import private_dir, private_file
from app.system.sim_registry import VirtualBoardEntry, list_live, register
from app.system.sqlite_file import SqliteFile
from tests.system.permission_probe import needs_file_modes

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The umask many desktops use (group-writable), so only explicit modes can pass these tests."""
    before = os.umask(0o002)
    yield
    os.umask(before)


@pytest.mark.usefixtures("loose_umask")
def test_data_folder_and_databases(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "station").ensure()
    assert mode(data.root) == 0o700
    db = SqliteFile(data.local_instance_db, what="instance database", error=StorageError)
    with db.write() as conn:
        conn.execute("CREATE TABLE t (x)")
    assert mode(data.local_instance_db.parent) == 0o700
    for suffix in ("", "-wal", "-shm"):
        assert mode(Path(f"{data.local_instance_db}{suffix}")) == 0o600, suffix
    db.close()


@pytest.mark.usefixtures("loose_umask")
def test_existing_loose_files_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "old" / "records.sqlite3"
    path.parent.mkdir(mode=0o755)
    path.parent.chmod(0o755)
    SqliteFile(path, what="records", error=StorageError).close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").touch()
        Path(f"{path}{suffix}").chmod(0o664)
    SqliteFile(path, what="records", error=StorageError).close()
    assert mode(path.parent) == 0o700
    assert mode(path) == 0o600


def test_a_read_only_folder_stays_read_only(tmp_path: Path) -> None:
    """Tightening removes group and other bits only: a person's deliberate 0500 is not undone."""
    folder = tmp_path / "kept"
    folder.mkdir()
    folder.chmod(0o555)
    private_dir(folder)
    assert mode(folder) == 0o500
    folder.chmod(0o700)


@pytest.mark.usefixtures("loose_umask")
def test_private_file_creates_empty_and_keeps_content(tmp_path: Path) -> None:
    fresh = private_file(tmp_path / "new.json")
    assert fresh.read_bytes() == b"" and mode(fresh) == 0o600
    fresh.write_text("kept")
    fresh.chmod(0o644)
    assert private_file(fresh).read_text() == "kept" and mode(fresh) == 0o600


def test_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    with pytest.raises(StorageError, match="a file stands where a folder is needed on the way to"):
        DataDir(tmp_path / "plain" / "station").ensure()


@needs_file_modes
def test_no_permission_names_the_folder(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(StorageError) as caught:
            DataDir(locked / "station").ensure()
    finally:
        locked.chmod(0o700)
    assert str(caught.value) == (
        f"cannot write the station data folder {locked / 'station'}: Permission denied; "
        f"give this user write access to {locked} or choose another data folder"
    )


@pytest.mark.usefixtures("loose_umask")
def test_virtual_board_state_is_private(tmp_path: Path) -> None:
    folder = tmp_path / "sim" / "board-1"
    burnt = EfuseState().with_secure_boot(ChipType.ESP32C3, bytes(32))
    board = BoardState(folder, ChipType.ESP32C3, initial_efuses=burnt)
    board.close()
    assert mode(folder) == mode(folder.parent) == 0o700
    for name in ("board.json", "flash.bin", "efuses.json"):
        assert mode(folder / name) == 0o600, name
    assert sorted(p.name for p in folder.iterdir()) == ["board.json", "efuses.json", "flash.bin"]


@pytest.mark.usefixtures("loose_umask")
def test_virtual_board_registry_is_private(tmp_path: Path) -> None:
    registry = DataDir(tmp_path / "station").ensure().sim_registry
    url, mac = "rfc2217://127.0.0.1:4000", "02:51:00:00:00:01"
    entry = VirtualBoardEntry("sim-1", url, "esp32c3", mac, os.getpid())
    path = register(registry, entry)
    assert mode(registry) == mode(registry.parent) == 0o700
    assert mode(path) == 0o600
    assert list_live(registry) == [entry]
    assert [p.name for p in registry.iterdir()] == ["sim-1.json"]
