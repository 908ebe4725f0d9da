"""The instance KEK in both modes, against the suite's file keyring and keyring's fail backend."""

from __future__ import annotations

import json
import time

import keyring.core
import pytest
from keyring.backends import fail

from app.domain.errors import SecretUnavailableError, ValidationError
from app.instance.local.key_protection import (
    KeyProtector,
    ProtectionMeta,
    WrongPassphraseError,
    create_protector,
    keyring_account,
    unlock_protector,
)
from app.system.keyring_store import KeyringStore
from tests.support.file_keyring import FileKeyring

PASSPHRASE = "correct horse battery"
SECRET_KEY = b"-----BEGIN PRIVATE KEY-----\nnot really a key\n-----END PRIVATE KEY-----\n"


class Prompt:
    """Answers like a person would, and records what they were asked."""

    def __init__(self, *answers: str | None) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, bool]] = []

    def __call__(self, reason: str, is_new: bool) -> str | None:
        self.asked.append((reason, is_new))
        return self.answers.pop(0)


def test_keyring_mode_round_trip(file_keyring: FileKeyring) -> None:
    store = KeyringStore()
    prompt = Prompt()
    protector, meta = create_protector("inst-1", store, prompt)
    assert meta.mode == "keyring"
    assert prompt.asked == []
    stored = store.get(keyring_account("inst-1"))
    assert stored is not None and len(stored) == 44  # base64 of 32 bytes

    blob = protector.encrypt(SECRET_KEY, "pki:root")
    assert SECRET_KEY not in blob
    reopened = unlock_protector("inst-1", ProtectionMeta.from_json(meta.to_json()), KeyringStore(), None)
    assert reopened.decrypt(blob, "pki:root") == SECRET_KEY
    assert reopened.mode == "keyring"


def test_every_encryption_uses_a_fresh_nonce() -> None:
    protector, _ = create_protector("inst-1", KeyringStore(), None)
    first, second = protector.encrypt(SECRET_KEY, "x"), protector.encrypt(SECRET_KEY, "x")
    assert first != second
    assert protector.decrypt(first, "x") == protector.decrypt(second, "x") == SECRET_KEY


def test_wrong_label_is_refused() -> None:
    protector, _ = create_protector("inst-1", KeyringStore(), None)
    blob = protector.encrypt(SECRET_KEY, "pki:root")
    with pytest.raises(ValidationError, match=r"stored data for 'pki:tls' cannot be decrypted") as raised:
        protector.decrypt(blob, "pki:tls")
    assert "belongs to another item" in str(raised.value)


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_tampered_blob_is_refused(position: int) -> None:
    protector, _ = create_protector("inst-1", KeyringStore(), None)
    blob = bytearray(protector.encrypt(SECRET_KEY, "signing:k1"))
    blob[position] ^= 0x01
    with pytest.raises(ValidationError, match="'signing:k1'"):
        protector.decrypt(bytes(blob), "signing:k1")


def test_truncated_blob_is_refused() -> None:
    protector, _ = create_protector("inst-1", KeyringStore(), None)
    with pytest.raises(ValidationError, match="'k' is not an encrypted key of this station"):
        protector.decrypt(b"\x01short", "k")


def test_another_instances_key_cannot_decrypt() -> None:
    one, _ = create_protector("inst-1", KeyringStore(), None)
    two, _ = create_protector("inst-2", KeyringStore(), None)
    with pytest.raises(ValidationError, match="another instance's key"):
        two.decrypt(one.encrypt(SECRET_KEY, "k"), "k")


def test_missing_keyring_entry(file_keyring: FileKeyring) -> None:
    _, meta = create_protector("inst-1", KeyringStore(), None)
    KeyringStore().delete(keyring_account("inst-1"))
    with pytest.raises(SecretUnavailableError) as raised:
        unlock_protector("inst-1", meta, KeyringStore(), Prompt(PASSPHRASE))
    message = str(raised.value)
    assert (
        "the key that protects the private keys of instance 'inst-1' is not in this computer's keyring"
        in (message)
    )
    assert "the computer (and user account) that created it" in message


def test_keyring_entry_replaced_by_another_key() -> None:
    _, meta = create_protector("inst-1", KeyringStore(), None)
    create_protector("inst-1", KeyringStore(), None)  # a second instance wrongly reusing the id
    with pytest.raises(SecretUnavailableError, match="holds a different key under this instance's name"):
        unlock_protector("inst-1", meta, KeyringStore(), None)


def test_damaged_keyring_entry() -> None:
    _, meta = create_protector("inst-1", KeyringStore(), None)
    KeyringStore().set(keyring_account("inst-1"), "not base64!")
    with pytest.raises(SecretUnavailableError, match="its keyring entry is damaged"):
        unlock_protector("inst-1", meta, KeyringStore(), None)


def test_keyring_mode_instance_opened_where_there_is_no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    _, meta = create_protector("inst-1", KeyringStore(), None)
    monkeypatch.setattr(keyring.core, "_keyring_backend", fail.Keyring())  # the file moved to a bare server
    with pytest.raises(
        SecretUnavailableError, match="not in this computer's keyring: no OS keyring is available"
    ):
        unlock_protector("inst-1", meta, KeyringStore(), Prompt(PASSPHRASE))


@pytest.mark.usefixtures("no_keyring")
def test_passphrase_mode_round_trip() -> None:
    prompt = Prompt(PASSPHRASE)
    protector, meta = create_protector("inst-1", KeyringStore(), prompt)
    assert meta.mode == "passphrase"
    assert len(meta.salt) == 16
    ((reason, is_new),) = prompt.asked
    assert is_new and "No OS keyring" in reason and "at least 8 characters" in reason
    blob = protector.encrypt(SECRET_KEY, "pki:issuing")

    again = Prompt(PASSPHRASE)
    reopened = unlock_protector("inst-1", ProtectionMeta.from_json(meta.to_json()), KeyringStore(), again)
    assert again.asked[0][1] is False
    assert "Enter the passphrase" in again.asked[0][0]
    assert reopened.decrypt(blob, "pki:issuing") == SECRET_KEY


@pytest.mark.usefixtures("no_keyring")
def test_passphrase_is_stored_nowhere() -> None:
    _, meta = create_protector("inst-1", KeyringStore(), Prompt(PASSPHRASE))
    assert PASSPHRASE not in meta.to_json()
    assert PASSPHRASE.encode() not in meta.salt + meta.verifier
    assert PASSPHRASE not in repr(meta)


@pytest.mark.usefixtures("no_keyring")
def test_unicode_passphrase_matches_in_either_normal_form() -> None:
    composed, decomposed = "caf\u00e9-passphrase", "cafe\u0301-passphrase"
    _, meta = create_protector("inst-1", KeyringStore(), Prompt(composed))
    unlock_protector("inst-1", meta, KeyringStore(), Prompt(decomposed))


@pytest.mark.usefixtures("no_keyring")
def test_wrong_passphrase() -> None:
    _, meta = create_protector("inst-1", KeyringStore(), Prompt(PASSPHRASE))
    with pytest.raises(WrongPassphraseError) as raised:
        unlock_protector("inst-1", meta, KeyringStore(), Prompt("incorrect horse battery"))
    message = str(raised.value)
    assert "that is not the passphrase that protects the private keys of instance 'inst-1'" in message
    assert "incorrect horse" not in message
    assert isinstance(raised.value, SecretUnavailableError)


@pytest.mark.usefixtures("no_keyring")
@pytest.mark.parametrize("short", ["a", "1234567"])
def test_passphrase_too_short(short: str) -> None:
    with pytest.raises(ValidationError) as raised:
        create_protector("inst-1", KeyringStore(), Prompt(short))
    assert str(raised.value) == (
        f"the passphrase is too short: it needs at least 8 characters (got {len(short)})"
    )


@pytest.mark.usefixtures("no_keyring")
@pytest.mark.parametrize("prompt", [None, Prompt(None), Prompt("")], ids=["no-prompt", "none", "empty"])
def test_no_keyring_and_no_passphrase(prompt: Prompt | None) -> None:
    with pytest.raises(SecretUnavailableError) as raised:
        create_protector("inst-1", KeyringStore(), prompt)
    message = str(raised.value)
    assert "no OS keyring backend is available to protect the instance's private keys" in message
    assert "the station window asks for one" in message
    assert "run it in a terminal to be asked" in message
    assert "--passphrase-file" in message


@pytest.mark.usefixtures("no_keyring")
def test_unlock_without_a_passphrase() -> None:
    _, meta = create_protector("inst-1", KeyringStore(), Prompt(PASSPHRASE))
    with pytest.raises(
        SecretUnavailableError, match="keeps its private keys under a passphrase and none was given"
    ):
        unlock_protector("inst-1", meta, KeyringStore(), None)


@pytest.mark.usefixtures("no_keyring")
def test_deriving_the_key_takes_well_under_half_a_second() -> None:
    _, meta = create_protector("inst-1", KeyringStore(), Prompt(PASSPHRASE))
    started = time.perf_counter()
    unlock_protector("inst-1", meta, KeyringStore(), Prompt(PASSPHRASE))
    assert time.perf_counter() - started < 1.5  # ~0.2 s measured; generous for a loaded CI machine


def test_meta_json_round_trip_and_damage() -> None:
    meta = ProtectionMeta("passphrase", b"\x00" * 16, b"verifier-bytes")
    assert ProtectionMeta.from_json(meta.to_json()) == meta
    data = json.loads(meta.to_json())
    for broken, expected in [
        ("not json", "is damaged (JSONDecodeError)"),
        (json.dumps({**data, "mode": "usb-stick"}), "unknown protection mode 'usb-stick'"),
        (json.dumps({**data, "salt": "%%%"}), "is damaged (Error)"),
        (json.dumps({k: v for k, v in data.items() if k != "verifier"}), "is damaged (KeyError)"),
        (json.dumps({**data, "scrypt": {"n": 1000}}), "the passphrase salt or cost is not valid"),
        (json.dumps({**data, "salt": ""}), "the passphrase salt or cost is not valid"),
    ]:
        with pytest.raises(
            ValidationError, match="key-protection record of this instance is damaged"
        ) as raised:
            ProtectionMeta.from_json(broken)
        assert expected in str(raised.value)


def test_protector_repr_hides_the_key() -> None:
    protector, _ = create_protector("inst-1", KeyringStore(), None)
    kek = KeyringStore().get(keyring_account("inst-1"))
    assert kek is not None
    assert kek not in repr(protector)
    assert repr(protector) == "KeyProtector(mode='keyring')"
    with pytest.raises(ValueError, match="32 bytes"):
        KeyProtector(b"short", "keyring")
