"""What every CLI command gets: the data folder, output streams and a lazily opened instance."""

from __future__ import annotations

import getpass
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from app.cli.json_output import to_jsonable
from app.domain.errors import ValidationError
from app.instance.api import Instance
from app.system.paths import DataDir


@dataclass
class CliContext:
    data_dir: DataDir
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    passphrase_file: Path | None = None
    actor: str | None = None
    _instance: Instance | None = None

    def open_instance(self) -> Instance:
        """The built-in local instance in the data folder (a remote instance is a later setting)."""
        if self._instance is None:
            from app.instance.local.instance import LocalInstance

            self.data_dir.ensure()
            self._instance = LocalInstance.open(
                self.data_dir.local_instance_db,
                actor=self.actor,
                passphrase_prompt=self.passphrase_prompt,
            )
        return self._instance

    def passphrase_prompt(self, reason: str, is_new: bool) -> str | None:
        """Asked only when no OS keyring can hold the instance key: a file, else the terminal."""
        if self.passphrase_file is not None:
            try:
                text = self.passphrase_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise ValidationError(
                    f"cannot read passphrase file {self.passphrase_file}: {exc.strerror}"
                ) from None
            return text.rstrip("\r\n")
        if not sys.stdin.isatty():
            return None
        print(reason, file=self.err)
        first = getpass.getpass("Passphrase: ")
        if is_new and getpass.getpass("Repeat passphrase: ") != first:
            raise ValidationError("the two passphrases differ; nothing was changed")
        return first

    def print_json(self, obj: object) -> None:
        json.dump(to_jsonable(obj), self.out, indent=2, sort_keys=False)
        self.out.write("\n")

    def close(self) -> None:
        if self._instance is not None:
            self._instance.close()
            self._instance = None
