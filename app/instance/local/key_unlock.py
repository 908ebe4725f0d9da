"""The instance's key protector, unlocked only when a private key is really needed.

Listing batches or showing the dashboard must never ask for a passphrase or touch the keyring, so a
reopened instance starts locked and unlocks on the first signing operation. A failed unlock (no keyring
entry, no passphrase given, a wrong one) is not remembered: the next attempt asks again.
"""

from __future__ import annotations

import threading

from app.instance.local import meta
from app.instance.local.database import Database
from app.instance.local.key_protection import (
    KeyProtector,
    PassphrasePrompt,
    ProtectionMeta,
    ProtectionMode,
    unlock_protector,
)
from app.system.keyring_store import KeyringStore


class LazyProtector:
    def __init__(
        self,
        db: Database,
        keyring: KeyringStore,
        prompt: PassphrasePrompt | None,
        unlocked: KeyProtector | None = None,
    ) -> None:
        self._db = db
        self._keyring = keyring
        self._prompt = prompt
        self._protector = unlocked
        self._lock = threading.Lock()

    @property
    def is_unlocked(self) -> bool:
        return self._protector is not None

    def mode(self) -> ProtectionMode:
        with self._db.read() as conn:
            return ProtectionMeta.from_json(meta.require(conn, meta.PROTECTION)).mode

    def get(self) -> KeyProtector:
        """The unlocked protector; may ask for the passphrase (raises SecretUnavailableError if none)."""
        with self._lock:
            if self._protector is None:
                with self._db.read() as conn:
                    instance_id = meta.require(conn, meta.INSTANCE_ID)
                    protection = ProtectionMeta.from_json(meta.require(conn, meta.PROTECTION))
                self._protector = unlock_protector(instance_id, protection, self._keyring, self._prompt)
            return self._protector
