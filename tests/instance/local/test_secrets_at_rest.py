"""No secret in the database: every text and blob cell of every table, and the raw file bytes, are scanned
for the passwords, the passphrase, the key-encryption key and the private keys used in the test.

The private keys are recovered the way only the instance itself can (decrypting with the unlocked
protector), so the test knows exactly which bytes must not appear in clear.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, IefKind, KeyType, Role
from app.instance.local.instance import LocalInstance
from app.instance.local.key_protection import (
    KeyProtector,
    ProtectionMeta,
    keyring_account,
    unlock_protector,
)
from app.system.keyring_store import KeyringStore

PASSWORDS = ("first user password", "second-user-pw!")
PASSPHRASE = "passphrase never stored"


def _cells(path: Path) -> Iterator[tuple[str, object]]:
    conn = sqlite3.connect(path)
    try:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert {"users", "signing_keys", "certificates", "meta", "activity"} <= set(tables)
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 - names from sqlite_master
                for cell in row:
                    if isinstance(cell, str | bytes):
                        yield table, cell
    finally:
        conn.close()


def _assert_absent(path: Path, needles: list[bytes]) -> None:
    assert all(len(n) >= 8 for n in needles)
    scanned = 0
    for table, cell in _cells(path):
        data = cell.encode("utf-8") if isinstance(cell, str) else cell
        scanned += 1
        for needle in needles:
            assert needle not in data, f"a secret is stored in clear in table {table!r}"
    assert scanned > 50
    raw = path.read_bytes() + (Path(f"{path}-wal").read_bytes() if Path(f"{path}-wal").exists() else b"")
    for needle in needles:
        assert needle not in raw, "a secret is in the database file bytes"


def _private_parts(path: Path, protector: KeyProtector) -> list[bytes]:
    """Every private key the instance holds, decrypted, plus each base64 line of the PEM ones."""
    conn = sqlite3.connect(path)
    try:
        secrets = []
        for name, blob in conn.execute("SELECT name, encrypted_private_key FROM signing_keys"):
            pem = protector.decrypt(blob, f"signing-key:{name}")
            assert b"PRIVATE KEY" in pem
            secrets.append(pem)
            secrets += [line for line in pem.splitlines() if len(line) >= 40]
        for role, blob in conn.execute("SELECT role, encrypted_private_key FROM certificates"):
            secrets.append(protector.decrypt(blob, f"pki:{role}"))
        assert len(secrets) > 5
        return secrets
    finally:
        conn.close()


def _protection(path: Path) -> tuple[str, ProtectionMeta]:
    conn = sqlite3.connect(path)
    try:
        values = dict(conn.execute("SELECT key, value FROM meta"))
    finally:
        conn.close()
    return values["instance_id"], ProtectionMeta.from_json(values["key_protection"])


def _fill(instance: LocalInstance) -> None:
    instance.create_user("alice", PASSWORDS[0], Role.ADMINISTRATOR)
    instance.create_user("bob", PASSWORDS[1], Role.CONTRIBUTOR)
    instance.set_user_role("bob", Role.ADMINISTRATOR)
    instance.create_signing_key("ec", KeyType.ECDSA_P256)
    instance.create_signing_key("rsa", KeyType.RSA_3072)
    instance.create_task("task", ChipType.ESP32S2, BootloaderKind.DEV, IefKind.DEBUG, "rsa")
    instance.task_images("task")
    instance.create_batch("b")


def test_keyring_mode_stores_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "local.sqlite3"
    with LocalInstance.open(path) as instance:
        _fill(instance)
    instance_id, meta = _protection(path)
    assert meta.mode == "keyring"
    keyring = KeyringStore()
    kek_text = keyring.get(keyring_account(instance_id))
    assert kek_text is not None
    protector = unlock_protector(instance_id, meta, keyring, None)
    needles = [p.encode() for p in PASSWORDS] + [kek_text.encode(), base64.b64decode(kek_text)]
    _assert_absent(path, needles + _private_parts(path, protector))


def test_passphrase_mode_stores_no_secret(tmp_path: Path, no_keyring: None) -> None:
    path = tmp_path / "local.sqlite3"
    with LocalInstance.open(path, passphrase_prompt=lambda reason, new: PASSPHRASE) as instance:
        _fill(instance)
    instance_id, meta = _protection(path)
    assert meta.mode == "passphrase"
    protector = unlock_protector(instance_id, meta, KeyringStore(), lambda reason, new: PASSPHRASE)
    needles = [p.encode() for p in (*PASSWORDS, PASSPHRASE)]
    _assert_absent(path, needles + _private_parts(path, protector))
