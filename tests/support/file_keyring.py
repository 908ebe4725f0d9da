"""A keyring backend that keeps entries in a JSON file, so tests never touch a person's real keyring.

Selected by the root conftest for the test process (`keyring.set_keyring`) and for every subprocess it
starts (`PYTHON_KEYRING_BACKEND=tests.support.file_keyring.FileKeyring`). The file path comes from
`QL_TEST_KEYRING_FILE`; without it the backend declares itself not viable, so it can never be picked up
by keyring's auto-detection outside the tests.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.compat import properties
from keyring.errors import PasswordDeleteError

ENV_FILE = "QL_TEST_KEYRING_FILE"
DOTTED_NAME = "tests.support.file_keyring.FileKeyring"


class FileKeyring(KeyringBackend):
    """Entries as {service: {account: secret}} in one JSON file, replaced atomically on each change."""

    @properties.classproperty
    def priority(cls) -> float:
        if not os.environ.get(ENV_FILE):
            raise RuntimeError(f"{ENV_FILE} is not set; the file keyring is for tests only")
        return 50.0

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        chosen = path if path is not None else os.environ.get(ENV_FILE)
        if not chosen:
            raise RuntimeError(f"{ENV_FILE} is not set; the file keyring is for tests only")
        self.path = Path(chosen)

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            data: dict[str, dict[str, str]] = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return data

    def _save(self, data: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data.setdefault(service, {})[username] = password
        self._save(data)

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if username not in data.get(service, {}):
            raise PasswordDeleteError(f"no entry {username!r} in service {service!r}")
        del data[service][username]
        self._save(data)
