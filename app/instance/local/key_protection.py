"""The key-encryption key (KEK) that protects the local instance's private keys at rest.

Private keys (PKI, Secure Boot signing keys) sit in the instance database encrypted with AES-256-GCM
under one KEK per instance. Where the OS keyring works, the KEK is 32 random bytes kept there and the
person never sees it. Where it does not (a headless Linux box, a locked-down PC), the KEK is derived
from a passphrase the person gives at each start; the passphrase is never stored anywhere.

`ProtectionMeta` is what the database keeps to unlock again: the mode, the scrypt salt and cost, and a
verifier (a fixed text encrypted under the KEK) so a wrong passphrase or a stale keyring entry is
caught at unlock, not later as a puzzling failure to decrypt some key.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from app.domain.errors import SecretUnavailableError, ValidationError
from app.system.keyring_store import KeyringStore

PassphrasePrompt = Callable[[str, bool], str | None]
"""(reason shown to the person, is it a new passphrase) -> the passphrase, or None if none was given."""

ProtectionMode = Literal["keyring", "passphrase"]

MIN_PASSPHRASE_LENGTH = 8
KEK_SIZE = 32
SALT_SIZE = 16
NONCE_SIZE = 12
# 64 MiB of memory, about 0.2 s on a 2-core laptop: slow for guessing, quick for a person at start-up.
SCRYPT_N = 2**16
SCRYPT_R = 8
SCRYPT_P = 1

_BLOB_VERSION = 1
_VERIFIER_LABEL = "kek-verifier"
_VERIFIER_TEXT = b"QuarkLink Provisioning Station key-encryption key v1"
_NO_KEYRING_HELP = (
    "no OS keyring backend is available to protect the instance's private keys, so a passphrase is "
    "needed instead: the station window asks for one; on the command line, run it in a terminal to be "
    "asked, or give --passphrase-file with a file holding the passphrase"
)


class WrongPassphraseError(SecretUnavailableError):
    """The passphrase given is not the one that protects this instance; asking again may help."""


def keyring_account(instance_id: str) -> str:
    return f"instance-kek:{instance_id}"


@dataclass(frozen=True)
class ProtectionMeta:
    """How an instance's KEK is found again. Not secret: the database stores it next to the keys."""

    mode: ProtectionMode
    salt: bytes
    verifier: bytes
    scrypt_n: int = SCRYPT_N
    scrypt_r: int = SCRYPT_R
    scrypt_p: int = SCRYPT_P

    def to_json(self) -> str:
        return json.dumps(
            {
                "mode": self.mode,
                "salt": base64.b64encode(self.salt).decode("ascii"),
                "verifier": base64.b64encode(self.verifier).decode("ascii"),
                "scrypt": {"n": self.scrypt_n, "r": self.scrypt_r, "p": self.scrypt_p},
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> ProtectionMeta:
        damaged = "the key-protection record of this instance is damaged"
        try:
            data = json.loads(text)
            mode = data["mode"]
            salt = base64.b64decode(data["salt"], validate=True)
            verifier = base64.b64decode(data["verifier"], validate=True)
            cost = data.get("scrypt", {})
            n, r, p = (
                int(cost.get(k, default))
                for k, default in (("n", SCRYPT_N), ("r", SCRYPT_R), ("p", SCRYPT_P))
            )
        except (ValueError, TypeError, KeyError, AttributeError, binascii.Error) as exc:
            raise ValidationError(
                f"{damaged} ({type(exc).__name__}); restore the database from a backup"
            ) from None
        if mode not in ("keyring", "passphrase"):
            raise ValidationError(f"{damaged}: unknown protection mode {mode!r}")
        if mode == "passphrase" and (len(salt) < SALT_SIZE or n < 2**14 or n & (n - 1) or r < 1 or p < 1):
            raise ValidationError(f"{damaged}: the passphrase salt or cost is not valid")
        return cls(mode=mode, salt=salt, verifier=verifier, scrypt_n=n, scrypt_r=r, scrypt_p=p)


class KeyProtector:
    """Encrypts and decrypts private keys under the instance KEK. Each blob is bound to a label."""

    __slots__ = ("_aead", "mode")

    def __init__(self, kek: bytes, mode: ProtectionMode) -> None:
        if len(kek) != KEK_SIZE:
            raise ValueError(f"a key-encryption key is {KEK_SIZE} bytes")
        self._aead = AESGCM(kek)
        self.mode: ProtectionMode = mode

    def __repr__(self) -> str:
        return f"KeyProtector(mode={self.mode!r})"

    def encrypt(self, plaintext: bytes, label: str) -> bytes:
        """version byte | 12-byte random nonce | AES-256-GCM ciphertext and tag, `label` authenticated."""
        nonce = os.urandom(NONCE_SIZE)
        header = bytes([_BLOB_VERSION])
        return header + nonce + self._aead.encrypt(nonce, plaintext, _associated_data(label))

    def decrypt(self, blob: bytes, label: str) -> bytes:
        if len(blob) < 1 + NONCE_SIZE + 16 or blob[0] != _BLOB_VERSION:
            raise ValidationError(f"the stored data for {label!r} is not an encrypted key of this station")
        nonce, sealed = blob[1 : 1 + NONCE_SIZE], blob[1 + NONCE_SIZE :]
        try:
            return self._aead.decrypt(nonce, sealed, _associated_data(label))
        except InvalidTag:
            raise ValidationError(
                f"the stored data for {label!r} cannot be decrypted: it was changed, belongs to another "
                "item, or was encrypted with another instance's key"
            ) from None

    def _matches(self, verifier: bytes) -> bool:
        try:
            return self.decrypt(verifier, _VERIFIER_LABEL) == _VERIFIER_TEXT
        except ValidationError:
            return False


def _associated_data(label: str) -> bytes:
    return bytes([_BLOB_VERSION]) + label.encode("utf-8")


def _derive_kek(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    normalized = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    return Scrypt(salt=salt, length=KEK_SIZE, n=n, r=r, p=p).derive(normalized)


def _ask(prompt: PassphrasePrompt | None, reason: str, is_new: bool, missing: str) -> str:
    answer = prompt(reason, is_new) if prompt is not None else None
    if not answer:
        raise SecretUnavailableError(missing)
    return answer


def create_protector(
    instance_id: str, keyring: KeyringStore, prompt: PassphrasePrompt | None
) -> tuple[KeyProtector, ProtectionMeta]:
    """A new KEK for a new instance: in the keyring when one works, else from a new passphrase.

    `instance_id` must be unique per instance database (a random id stored with it): an entry already in
    the keyring under the same id is replaced.
    """
    keyring_problem = ""
    if keyring.available():
        kek = secrets.token_bytes(KEK_SIZE)
        try:
            keyring.set(keyring_account(instance_id), base64.b64encode(kek).decode("ascii"))
        except SecretUnavailableError as exc:
            keyring_problem = f" ({exc})"
        else:
            protector = KeyProtector(kek, "keyring")
            return protector, ProtectionMeta(
                "keyring", b"", protector.encrypt(_VERIFIER_TEXT, _VERIFIER_LABEL)
            )

    reason = (
        f"No OS keyring can hold the key that protects the private keys of instance {instance_id!r}"
        f"{keyring_problem}. Choose a passphrase of at least {MIN_PASSPHRASE_LENGTH} characters; "
        "it is asked each time the instance is opened and cannot be recovered if lost."
    )
    passphrase = _ask(prompt, reason, True, _NO_KEYRING_HELP + keyring_problem)
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise ValidationError(
            f"the passphrase is too short: it needs at least {MIN_PASSPHRASE_LENGTH} characters "
            f"(got {len(passphrase)})"
        )
    salt = os.urandom(SALT_SIZE)
    protector = KeyProtector(_derive_kek(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P), "passphrase")
    return protector, ProtectionMeta("passphrase", salt, protector.encrypt(_VERIFIER_TEXT, _VERIFIER_LABEL))


def unlock_protector(
    instance_id: str, meta: ProtectionMeta, keyring: KeyringStore, prompt: PassphrasePrompt | None
) -> KeyProtector:
    """The KEK of an existing instance, checked against its verifier. One attempt; callers may retry."""
    if meta.mode == "keyring":
        return _unlock_from_keyring(instance_id, meta, keyring)
    reason = f"Enter the passphrase that protects the private keys of instance {instance_id!r}."
    missing = (
        f"instance {instance_id!r} keeps its private keys under a passphrase and none was given: the station "
        "window asks for it; on the command line, run it in a terminal to be asked, or give "
        "--passphrase-file with a file holding it"
    )
    passphrase = _ask(prompt, reason, False, missing)
    kek = _derive_kek(passphrase, meta.salt, meta.scrypt_n, meta.scrypt_r, meta.scrypt_p)
    protector = KeyProtector(kek, "passphrase")
    if not protector._matches(meta.verifier):
        raise WrongPassphraseError(
            f"that is not the passphrase that protects the private keys of instance {instance_id!r}; "
            "try again (check the keyboard layout and Caps Lock)"
        )
    return protector


def _unlock_from_keyring(instance_id: str, meta: ProtectionMeta, keyring: KeyringStore) -> KeyProtector:
    not_here = (
        f"the key that protects the private keys of instance {instance_id!r} is not in this computer's "
        "keyring"
    )
    remedy = (
        "; open the instance on the computer (and user account) that created it, or unlock the keyring "
        "if it is locked"
    )
    if not keyring.available():
        raise SecretUnavailableError(f"{not_here}: no OS keyring is available{remedy}")
    stored = keyring.get(keyring_account(instance_id))
    if stored is None:
        raise SecretUnavailableError(f"{not_here}{remedy}")
    try:
        kek = base64.b64decode(stored, validate=True)
        protector = KeyProtector(kek, "keyring")
    except (ValueError, binascii.Error):
        raise SecretUnavailableError(f"{not_here}: its keyring entry is damaged{remedy}") from None
    if not protector._matches(meta.verifier):
        raise SecretUnavailableError(
            f"{not_here}: the keyring holds a different key under this instance's name{remedy}"
        )
    return protector
