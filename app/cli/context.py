"""What every CLI command gets: the data folder, output streams and a lazily opened instance."""

from __future__ import annotations

import contextlib
import getpass
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from app.cli.catch_up import catch_up
from app.cli.json_output import to_jsonable
from app.domain.errors import StationError, ValidationError
from app.instance.api import Instance
from app.instance.station_access import StationAccess
from app.instance.wire import NotSignedInError
from app.system.keyring_store import KeyringStore
from app.system.paths import DataDir

MAX_SECRET_BYTES = 64 * 1024
"""Longer than any password or passphrase; a file or stream past it is not one (say, /dev/zero)."""


def read_stdin_secret(what: str) -> str:
    """The first line of stdin as a secret: strict UTF-8, at most MAX_SECRET_BYTES, never echoed in errors.

    The bytes are decoded here rather than by sys.stdin, whose decoding depends on the locale and
    either raises a traceback or lets undecodable bytes through as surrogates no database accepts.
    """
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # a text stream without bytes underneath (an in-process caller's StringIO)
        raw = sys.stdin.readline(MAX_SECRET_BYTES + 1).encode("utf-8", "surrogateescape")
    else:
        raw = buffer.readline(MAX_SECRET_BYTES + 1)
    return decode_secret(raw, f"the {what} on stdin")


def decode_secret(raw: bytes, where: str) -> str:
    """Secret bytes as text without its line ending, or a ValidationError that does not show them."""
    if len(raw) > MAX_SECRET_BYTES:
        raise ValidationError(f"{where} is longer than {MAX_SECRET_BYTES // 1024} KiB; it cannot be a secret")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = f"byte {exc.start + 1} of {len(raw)} is 0x{raw[exc.start]:02X}"
        raise ValidationError(
            f"{where} is not valid UTF-8 text ({bad}); save it as UTF-8 and try again"
        ) from None
    return text.removesuffix("\n").removesuffix("\r")


@dataclass
class CliContext:
    data_dir: DataDir
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    passphrase_file: Path | None = None
    actor: str | None = None
    _instance: Instance | None = None
    _unkept_token: str | None = field(default=None, repr=False)

    def access(self) -> StationAccess:
        """This data folder's instance (built-in or paired) and its sign-in."""
        return StationAccess(self.data_dir, KeyringStore(), self.passphrase_prompt)

    def open_instance(self, *, deliver: bool = True) -> Instance:
        """The paired instance, else the built-in one, acting as the signed-in user.

        `--user NAME` names who acts: the kept sign-in when it is NAME's, else NAME's password typed at
        the terminal for this one command (signed out again when it ends). Naming a user is never
        enough by itself. Without `--user`, the kept sign-in acts; with none, only a built-in instance
        that has no users yet opens (as the built-in `station` account, to create its administrator).

        Opening it first delivers the outbox and refreshes a stale mirror (`catch_up`); a command that
        delivers the outbox itself passes `deliver=False` so its report counts what it sent.
        """
        if self._instance is None:
            access = self.access()
            if self.actor is None:
                kept = access.open_kept()
                self._instance = kept if kept is not None else access.open_unsigned()
            else:
                self._instance = self._open_as(access, self.actor)
            if deliver:
                catch_up(self._instance, self.data_dir, self.err)
        return self._instance

    def _open_as(self, access: StationAccess, username: str) -> Instance:
        kept = access.keeper.get()
        if kept is not None and kept.username.casefold() == username.strip().casefold():
            instance = access.open_kept()
            if instance is not None:
                return instance
        if not sys.stdin.isatty():
            raise NotSignedInError(
                f"{username!r} is not signed in on this station; sign in first: "
                f"ql-station login --user {username} --password-stdin"
            )
        password = getpass.getpass(f"Password for {username} on {access.where()}: ")
        instance, token = access.sign_in(username, password, keep=False)
        self._unkept_token = token
        return instance

    def passphrase_prompt(self, reason: str, is_new: bool) -> str | None:
        """Asked only when no OS keyring can hold the instance key: a file, else the terminal."""
        if self.passphrase_file is not None:
            try:
                with self.passphrase_file.open("rb") as file:
                    raw = file.read(MAX_SECRET_BYTES + 1)
            except OSError as exc:
                raise ValidationError(
                    f"cannot read passphrase file {self.passphrase_file}: {exc.strerror}"
                ) from None
            return decode_secret(raw, f"passphrase file {self.passphrase_file}").rstrip("\r\n")
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
        if self._unkept_token is not None:
            token, self._unkept_token = self._unkept_token, None
            with contextlib.suppress(StationError):  # it expires by itself if the instance is gone
                self.access().sign_out_token(token)
