"""The instance a server serves, opened once per acting user, with tokens and sign-in around it.

Every call runs on a `LocalInstance` opened with `actor=` the token's user, so the instance itself
enforces roles, as it does for the window and the CLI: the server adds no permission rule of its own.

Each acting user gets one handle on the database, kept for the server's life. Its reads run on read
connections beside its writer (see `app.system.sqlite_file`), so a dashboard read does not queue behind
a million-ID import, and sees every change committed before it began.
"""

from __future__ import annotations

import threading
from pathlib import Path

from app.domain.errors import NotFoundError
from app.instance.local.instance import LocalInstance
from app.instance.local.key_protection import PassphrasePrompt
from app.instance.local.users import STATION_ACTOR
from app.instance.wire import NotSignedInError
from app.server.server_db import FILE_NAME, ServerDatabase
from app.server.sign_in_limits import SignInLimits
from app.system.keyring_store import KeyringStore


class ServedInstance:
    def __init__(
        self,
        db_path: Path,
        *,
        keyring: KeyringStore | None = None,
        limits: SignInLimits | None = None,
        passphrase_prompt: PassphrasePrompt | None = None,
    ) -> None:
        """`passphrase_prompt` unlocks the serving handle only (to issue the TLS certificate at start);
        calls from clients never prompt: on an instance protected by a passphrase rather than the
        keyring, their signing calls answer 423 (SecretUnavailableError)."""
        self.db_path = db_path
        self._keyring = keyring
        self.limits = limits or SignInLimits()
        self._lock = threading.Lock()
        self._handles: dict[str, LocalInstance] = {}
        self.station = LocalInstance.open(
            db_path, keyring=keyring, passphrase_prompt=passphrase_prompt
        )  # creates a new instance on first use
        try:
            self.tokens = ServerDatabase(db_path.parent / FILE_NAME)
        except BaseException:
            self.station.close()
            raise

    def close(self) -> None:
        with self._lock:
            handles, self._handles = list(self._handles.values()), {}
        for handle in handles:
            handle.close()
        self.tokens.close()
        self.station.close()

    def issue_token(self, username: str | None = None) -> str:
        """A token for `username`, or for the built-in local administrator when None.

        Only code running with the data folder's owner rights (the serving process, its tests) can call
        this: over HTTP the only way to a token is `sign_in`.
        """
        return self.tokens.issue_token(STATION_ACTOR if username is None else username)

    def sign_in(self, username: str, password: str, address: str) -> str:
        """A token for a right name and password; a wrong one is logged and counted against both."""
        self.limits.check(username, address)
        try:
            user = self.station.authenticate(username, password)
        except Exception:
            self.limits.failed(username, address)
            self.station.note_sign_in(username, address, succeeded=False)
            raise
        self.limits.succeeded(user.username)
        self.station.note_sign_in(user.username, address, succeeded=True)
        return self.tokens.issue_token(user.username)

    def cached_actor_of(self, token: str) -> str | None:
        """The token's user if it was checked moments ago (no query, no thread); else None."""
        return self.tokens.cached_user_of(token)

    def actor_of(self, token: str) -> str:
        actor = self.tokens.user_of(token)
        if actor is None:
            raise NotSignedInError("the sign-in token is unknown, expired or signed out; sign in again")
        return actor

    def instance_for(self, actor: str) -> LocalInstance:
        """The actor's handle, opened on first use."""
        with self._lock:
            handle = self._handles.get(actor)
            if handle is None:
                try:
                    handle = LocalInstance.open(
                        self.db_path, actor=None if actor == STATION_ACTOR else actor, keyring=self._keyring
                    )
                except NotFoundError:
                    raise NotSignedInError(
                        f"user {actor!r} no longer exists on this instance; sign in as another user"
                    ) from None
                self._handles[actor] = handle
            return handle
