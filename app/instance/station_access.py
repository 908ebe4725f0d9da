"""Which instance this station works with, and who acts on it: the one way the CLI and the window open one.

The instance is the built-in one in the data folder unless the station is paired with a served one
(`app.instance.remote.pairing`). Either way the acting user is the one who signed in with a password:

- A served instance always needs a sign-in; its token is the server's. It is used through this
  station's mirror of it (`app.instance.mirror`), so reads keep answering while the network is away.
- The built-in instance needs one as soon as it has users (`app.instance.local.sessions` explains its
  tokens). Before its first user exists it acts as the built-in account `station`, as a fresh data
  folder always has: that is how its first administrator gets created.

A sign-in is kept in the OS keyring (one entry per data folder, naming the instance it belongs to), so
commands and later starts of the window act as that user until `logout` revokes it. With no OS keyring
nothing is kept: the password is asked each time and never written anywhere.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from app.domain.errors import (
    ConflictError,
    InstanceUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    SecretUnavailableError,
    ValidationError,
)
from app.domain.kinds import Role
from app.domain.records import PageRequest
from app.instance.api import Instance
from app.instance.local.instance import LocalInstance
from app.instance.local.key_protection import PassphrasePrompt
from app.instance.local.sessions import LocalSessions
from app.instance.mirror.instance import MirrorInstance
from app.instance.mirror.store import MirrorStore
from app.instance.remote import pairing
from app.instance.remote.connection import Connection
from app.instance.remote.instance import RemoteInstance
from app.instance.remote.pairing import Pairing
from app.instance.wire import NotSignedInError
from app.system.keyring_store import KeyringStore
from app.system.paths import DataDir

BUILT_IN = "built-in"
SIGN_IN_HINT = "ql-station login --user NAME --password-stdin"
LOCAL_ADDRESS = "this station"


@dataclass(frozen=True)
class KeptSignIn:
    """A sign-in kept in the keyring: which instance (`built-in` or the paired URL), who, and the token."""

    instance: str
    username: str
    token: str = field(repr=False)


class SignInKeeper:
    """The keyring entry holding this data folder's sign-in (never a file, never a log line)."""

    def __init__(self, keyring: KeyringStore, data_root: Path) -> None:
        self.keyring = keyring
        self.account = f"sign-in:{data_root}"

    def available(self) -> bool:
        return self.keyring.available()

    def get(self) -> KeptSignIn | None:
        if not self.keyring.available():
            return None
        raw = self.keyring.get(self.account)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return KeptSignIn(str(data["instance"]), str(data["username"]), str(data["token"]))
        except (ValueError, KeyError, TypeError):
            self.forget()  # damaged: as if signed out
            return None

    def keep(self, kept: KeptSignIn) -> None:
        """Raises SecretUnavailableError when no keyring can hold it."""
        entry = {"instance": kept.instance, "username": kept.username, "token": kept.token}
        self.keyring.set(self.account, json.dumps(entry))

    def forget(self) -> None:
        self.keyring.delete(self.account)


@dataclass
class StationAccess:
    """Opens this data folder's instance as its signed-in user."""

    data_dir: DataDir
    keyring: KeyringStore = field(default_factory=KeyringStore)
    passphrase_prompt: PassphrasePrompt | None = None

    @property
    def keeper(self) -> SignInKeeper:
        return SignInKeeper(self.keyring, self.data_dir.root)

    def pairing(self) -> Pairing | None:
        return pairing.load(self.data_dir.root)

    def where(self) -> str:
        """`built-in`, or the URL of the paired instance."""
        paired = self.pairing()
        return BUILT_IN if paired is None else paired.url

    # --- the built-in instance -------------------------------------------------------------------
    def open_local(self, actor: str | None = None) -> LocalInstance:
        """The built-in instance acting as `actor` (None: the built-in `station` account); trusted callers."""
        self.data_dir.ensure()
        return LocalInstance.open(
            self.data_dir.local_instance_db,
            actor=actor,
            passphrase_prompt=self.passphrase_prompt,
            keyring=self.keyring,
        )

    def local_has_users(self) -> bool:
        with self.open_local() as station:
            return has_users(station)

    def create_first_administrator(self, username: str, password: str, *, keep: bool) -> tuple[Instance, str]:
        """On a built-in instance with no users: its first administrator, signed in at once.

        Refused once any user exists (then an administrator signs in and manages users).
        """
        if self.pairing() is not None:
            raise ConflictError("this station uses a served instance; its administrators manage its users")
        with self.open_local() as station:
            if has_users(station):
                raise ConflictError(
                    "this instance already has users; an administrator signs in to create more"
                )
            station.create_user(username, password, Role.ADMINISTRATOR)
        return self.sign_in(username, password, keep=keep)

    def _local_sessions(self) -> LocalSessions:
        return LocalSessions.beside(self.data_dir.local_instance_db)

    # --- signing in and out ----------------------------------------------------------------------
    def sign_in(self, username: str, password: str, *, keep: bool) -> tuple[Instance, str]:
        """The instance acting as `username` once the password is right, and the session token.

        `keep` puts the token in the keyring for later commands and starts, in place of (and revoking)
        any earlier one; without it the token lives as long as the returned instance (the caller signs
        it out when done).
        """
        paired = self.pairing()
        if paired is None:
            instance, token = self._sign_in_locally(username, password)
        else:
            remote = RemoteInstance.sign_in(paired.url, paired.ca_file, username, password)
            token = remote.token or ""
            instance = self._mirrored(remote, paired, username.strip())
        if keep:
            try:
                earlier = self.keeper.get()
                self.keeper.keep(KeptSignIn(self.where(), instance.info().actor, token))
            except BaseException:
                self._revoke(token, self.where())
                instance.close()
                raise
            if earlier is not None:  # one sign-in per data folder: the new one replaces it
                with contextlib.suppress(InstanceUnavailableError):  # then it expires by itself
                    self._revoke(earlier.token, earlier.instance)
        return instance, token

    def _sign_in_locally(self, username: str, password: str) -> tuple[Instance, str]:
        with self.open_local() as station:
            if not has_users(station):
                raise ValidationError(
                    "the built-in instance has no users yet; create its administrator first: "
                    "ql-station user create NAME --role administrator --password-stdin"
                )
            try:
                user = station.authenticate(username, password)
            except PermissionDeniedError:
                station.note_sign_in(username, LOCAL_ADDRESS, succeeded=False)
                raise
            station.note_sign_in(user.username, LOCAL_ADDRESS, succeeded=True)
        with self._local_sessions() as sessions:
            token = sessions.issue(user.username)
        return self.open_local(user.username), token

    def open_kept(self) -> Instance | None:
        """The instance as the kept sign-in's user; None (and the entry dropped) when there is none valid."""
        kept = self.keeper.get()
        if kept is None:
            return None
        if kept.instance != self.where():
            self.keeper.forget()  # signed in to another instance than the one now chosen
            return None
        try:
            return self.open_with_token(kept.token, kept.username)
        except NotSignedInError:
            self.keeper.forget()
            return None

    def open_with_token(self, token: str, username: str | None = None) -> Instance:
        """The instance as a token's user; NotSignedInError when it expired or was signed out."""
        paired = self.pairing()
        if paired is None:
            with self._local_sessions() as sessions:
                username = sessions.user_of(token)
            if username is None:
                raise NotSignedInError(
                    f"the sign-in has expired or was signed out; sign in again: {SIGN_IN_HINT}"
                )
            try:
                return self.open_local(username)
            except NotFoundError:
                raise NotSignedInError(
                    f"user {username!r} no longer exists on this instance; sign in as another user"
                ) from None
        remote = RemoteInstance(Connection(paired.url, paired.ca_file, token=token))
        mirrored = self._mirrored(remote, paired, username)
        try:
            # A token the server no longer knows is found out now, not in the middle of a job. An
            # instance that cannot be reached is no reason to stop: its mirror answers (if it has a copy).
            mirrored.info()
        except BaseException:
            mirrored.close()
            raise
        return mirrored

    def _mirrored(self, remote: RemoteInstance, paired: Pairing, username: str | None) -> Instance:
        """The served instance behind this station's mirror of it (`app.instance.mirror`)."""
        try:
            store = MirrorStore(self.data_dir.ensure().mirror_db, paired.url)
        except BaseException:
            remote.close()
            raise
        return MirrorInstance(remote, store, acting_as=username)

    def open_unsigned(self) -> Instance:
        """The built-in instance before it has users (acting as `station`); otherwise a sentence."""
        if self.pairing() is not None:
            raise NotSignedInError(
                f"no one is signed in to {self.where()} on this station; sign in: {SIGN_IN_HINT}"
            )
        station = self.open_local()
        if has_users(station):
            station.close()
            raise NotSignedInError(
                f"no one is signed in to the built-in instance on this station; sign in: {SIGN_IN_HINT}"
            )
        return station

    def sign_out(self) -> tuple[KeptSignIn | None, str | None]:
        """Forget the kept sign-in and revoke it where it was issued.

        Returns the sign-in that was kept (None if none) and, when the instance could not be told, why
        (the keyring entry is gone anyway, and the session ends by itself when it expires).
        """
        try:
            kept = self.keeper.get()
        except SecretUnavailableError:
            return None, None
        if kept is None:
            return None, None
        self.keeper.forget()
        try:
            self._revoke(kept.token, kept.instance)
        except InstanceUnavailableError as exc:
            return kept, str(exc)
        return kept, None

    def sign_out_token(self, token: str) -> None:
        """End a session that was not kept (the window's "keep me signed in" off, a `--user` command)."""
        self._revoke(token, self.where())

    def _revoke(self, token: str, where: str) -> None:
        """Revoke on the instance that issued the token; one no longer paired just expires by itself."""
        if where == BUILT_IN:
            with self._local_sessions() as sessions:
                sessions.revoke(token)
            return
        paired = self.pairing()
        if paired is None or paired.url != where:
            return
        remote = RemoteInstance(Connection(paired.url, paired.ca_file, token=token))
        try:
            remote.sign_out()
        except NotSignedInError:
            pass  # already expired or revoked: signed out either way
        finally:
            remote.close()


def has_users(instance: Instance) -> bool:
    return instance.list_users(PageRequest(limit=1)).total > 0
