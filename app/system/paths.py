"""The station data folder: `--data-dir`, else `QL_STATION_HOME`, else the OS user-data folder.

Tests and demos always pass a folder of their own, so they never touch a person's real data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from app.system.private_files import private_dir

ENV_HOME = "QL_STATION_HOME"
APP_NAME = "ql-station"
APP_AUTHOR = "QuarkLink"


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser().resolve()
    from_env = os.environ.get(ENV_HOME)
    if from_env:
        return Path(from_env).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))


@dataclass(frozen=True)
class DataDir:
    """The files of one station data folder. Creating the object creates nothing on disk."""

    root: Path

    @property
    def local_instance_db(self) -> Path:
        return self.root / "instance" / "local.sqlite3"

    @property
    def records_db(self) -> Path:
        return self.root / "records.sqlite3"

    @property
    def mirror_db(self) -> Path:
        return self.root / "mirror.sqlite3"

    @property
    def image_cache(self) -> Path:
        return self.root / "images"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def sim_boards(self) -> Path:
        return self.root / "sim"

    @property
    def sim_registry(self) -> Path:
        """Where running simulated boards register their URLs so port discovery can list them."""
        return self.root / "sim" / "registry"

    @property
    def port_locks(self) -> Path:
        """One lock file per serial port, so two processes never drive one board (app.ports.reservation)."""
        return self.root / "ports"

    def ensure(self) -> DataDir:
        """Create the folder, private to this user (0700); a StorageError says why it cannot be made."""
        private_dir(self.root, what="station data folder")
        return self
