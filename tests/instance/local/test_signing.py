"""Secure Boot V2 signing, checked in-process and by espsecure's own command line as an outside judge."""

from __future__ import annotations

import builtins
import hashlib
import re
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from esptool.bin_image import ELFSection, ESP32C3FirmwareImage

from app.domain.errors import ValidationError
from app.domain.kinds import KeyType
from app.instance.local.signing import (
    SECTOR_SIZE,
    GeneratedKey,
    describe_key,
    generate_signing_key,
    key_digest_hex,
    sign_image,
    verify_image,
)

IRAM = 0x40380000


def _app_image(seed: bytes) -> bytes:
    """A valid unsigned ESP32-C3 app image, as esptool writes one (header, checksum, SHA-256)."""
    code = hashlib.sha256(seed).digest() * 96
    image = ESP32C3FirmwareImage()
    image.entrypoint = IRAM
    image.flash_mode = 2
    image.flash_size_freq = 0x20
    image.secure_pad = "2"
    image.segments = [ELFSection(b".iram0.text", IRAM, code, flags=0)]
    data = image.save(None)
    assert isinstance(data, bytes)
    return data


@pytest.fixture(scope="module")
def image() -> bytes:
    return _app_image(b"ief")


@pytest.fixture(scope="module")
def rsa_key() -> GeneratedKey:
    return generate_signing_key(KeyType.RSA_3072)


@pytest.fixture(scope="module")
def other_rsa_key() -> GeneratedKey:
    return generate_signing_key(KeyType.RSA_3072)


@pytest.fixture(scope="module")
def ecdsa_key() -> GeneratedKey:
    return generate_signing_key(KeyType.ECDSA_P256)


@pytest.fixture(scope="module")
def rsa_signed(image: bytes, rsa_key: GeneratedKey) -> bytes:
    return sign_image(image, rsa_key.private_key_pem)


def _espsecure_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "espsecure", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_generated_keys_have_the_promised_shape(rsa_key: GeneratedKey, ecdsa_key: GeneratedKey) -> None:
    for key, kind in ((rsa_key, "RSA-3072"), (ecdsa_key, "ECDSA secp256r1")):
        assert key.private_key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
        assert key.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")
        assert describe_key(key.public_key_pem) == kind
        assert re.fullmatch(r"[0-9a-f]{64}", key.key_digest_hex)
        assert "PRIVATE" not in repr(key)
        assert key.private_key_pem.decode() not in repr(key)


def test_digest_is_stable_and_per_key(
    rsa_key: GeneratedKey, other_rsa_key: GeneratedKey, ecdsa_key: GeneratedKey
) -> None:
    assert (
        key_digest_hex(rsa_key.public_key_pem)
        == key_digest_hex(rsa_key.public_key_pem)
        == rsa_key.key_digest_hex
    )
    assert len({rsa_key.key_digest_hex, other_rsa_key.key_digest_hex, ecdsa_key.key_digest_hex}) == 3


@pytest.mark.parametrize("which", ["rsa_key", "ecdsa_key"])
def test_digest_matches_what_espsecure_reads_from_the_signature(
    which: str, image: bytes, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    key: GeneratedKey = request.getfixturevalue(which)
    signed_file = tmp_path / "signed.bin"
    signed_file.write_bytes(sign_image(image, key.private_key_pem))
    info = _espsecure_cli("signature-info-v2", str(signed_file))
    assert info.returncode == 0, info.stderr
    found = re.search(r"Public key digest for block 0: ((?:[0-9a-f]{2} ?){32})", info.stdout)
    assert found, info.stdout
    assert found.group(1).replace(" ", "") == key.key_digest_hex


@pytest.mark.parametrize("which", ["rsa_key", "ecdsa_key"])
def test_sign_then_verify(which: str, image: bytes, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    key: GeneratedKey = request.getfixturevalue(which)
    signed = sign_image(image, key.private_key_pem)
    padded = -(-len(image) // 4096) * 4096
    assert len(signed) == padded + 4096
    assert signed[: len(image)] == image
    assert set(signed[len(image) : padded]) <= {0xFF}
    assert signed[padded] == 0xE7
    verify_image(signed, key.public_key_pem)

    (tmp_path / "pub.pem").write_text(key.public_key_pem)
    (tmp_path / "signed.bin").write_bytes(signed)
    outside = _espsecure_cli(
        "verify-signature",
        "--version",
        "2",
        "--keyfile",
        str(tmp_path / "pub.pem"),
        str(tmp_path / "signed.bin"),
    )
    assert outside.returncode == 0, outside.stdout + outside.stderr


def test_signing_prints_nothing(
    image: bytes, ecdsa_key: GeneratedKey, capfd: pytest.CaptureFixture[str]
) -> None:
    verify_image(sign_image(image, ecdsa_key.private_key_pem), ecdsa_key.public_key_pem)
    key_digest_hex(ecdsa_key.public_key_pem)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_private_key_is_never_written_to_disk(
    image: bytes, ecdsa_key: GeneratedKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[str] = []
    real_open = builtins.open

    def spying_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(flag in mode for flag in "wax+"):
            written.append(str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spying_open)
    sign_image(image, ecdsa_key.private_key_pem)
    monkeypatch.undo()
    assert [Path(p).name for p in written] == ["signed.bin"]


def test_wrong_key_of_the_same_kind(rsa_signed: bytes, other_rsa_key: GeneratedKey) -> None:
    with pytest.raises(ValidationError) as raised:
        verify_image(rsa_signed, other_rsa_key.public_key_pem)
    assert str(raised.value) == (
        f"the image is not signed by this RSA-3072 key (digest {other_rsa_key.key_digest_hex})"
    )


def test_rsa_signature_checked_with_an_ecdsa_key(rsa_signed: bytes, ecdsa_key: GeneratedKey) -> None:
    with pytest.raises(ValidationError, match=r"not signed by this ECDSA secp256r1 key.*another kind of key"):
        verify_image(rsa_signed, ecdsa_key.public_key_pem)


def test_an_rsa_block_whose_modulus_reads_as_a_curve_id_is_still_another_kind_of_key(
    rsa_signed: bytes, ecdsa_key: GeneratedKey
) -> None:
    """espsecure reads byte 36 of an RSA block as an ECDSA curve id; 1 (P-192) used to slip through as
    a plain "not signed by this key" (a random RSA key has that byte 1 or 3 about once in 64)."""
    sector = len(rsa_signed) - SECTOR_SIZE
    block = bytearray(rsa_signed[sector : sector + 1216])
    block[36] = 0x01
    block[1196:1200] = (zlib.crc32(bytes(block[:1196])) & 0xFFFFFFFF).to_bytes(4, "little")
    tampered = rsa_signed[:sector] + bytes(block) + rsa_signed[sector + 1216 :]
    with pytest.raises(ValidationError, match=r"not signed by this ECDSA secp256r1 key.*another kind of key"):
        verify_image(tampered, ecdsa_key.public_key_pem)


def test_ecdsa_signature_checked_with_an_rsa_key(
    image: bytes, ecdsa_key: GeneratedKey, rsa_key: GeneratedKey
) -> None:
    signed = sign_image(image, ecdsa_key.private_key_pem)
    with pytest.raises(ValidationError, match="the image is not signed by this RSA-3072 key"):
        verify_image(signed, rsa_key.public_key_pem)


@pytest.mark.parametrize("offset", [0, 100, -4097])
def test_tampered_image(rsa_signed: bytes, rsa_key: GeneratedKey, offset: int) -> None:
    tampered = bytearray(rsa_signed)
    tampered[offset] ^= 0x01
    with pytest.raises(ValidationError) as raised:
        verify_image(bytes(tampered), rsa_key.public_key_pem)
    assert str(raised.value) == (
        "the image was changed after it was signed: its contents no longer match the digest in its "
        "signature block"
    )


def test_damaged_signature_block(rsa_signed: bytes, rsa_key: GeneratedKey) -> None:
    tampered = bytearray(rsa_signed)
    tampered[-4096 + 500] ^= 0x01
    with pytest.raises(ValidationError, match="carries no valid Secure Boot V2 signature"):
        verify_image(bytes(tampered), rsa_key.public_key_pem)


@pytest.mark.parametrize("cut", ["unsigned", "truncated", "empty"])
def test_unsigned_or_cut_images(cut: str, image: bytes, rsa_signed: bytes, rsa_key: GeneratedKey) -> None:
    data = {"unsigned": image, "truncated": rsa_signed[:-1], "empty": b""}[cut]
    with pytest.raises(ValidationError) as raised:
        verify_image(data, rsa_key.public_key_pem)
    assert str(raised.value).startswith("the image carries no valid Secure Boot V2 signature (it is unsigned")


def test_signing_refuses_a_signed_image(rsa_signed: bytes, ecdsa_key: GeneratedKey) -> None:
    with pytest.raises(ValidationError, match="the image is already signed"):
        sign_image(rsa_signed, ecdsa_key.private_key_pem)


def test_signing_refuses_an_empty_image(rsa_key: GeneratedKey) -> None:
    with pytest.raises(ValidationError, match=r"there is no image to sign \(it is empty\)"):
        sign_image(b"", rsa_key.private_key_pem)


def test_signing_with_a_bad_private_key(image: bytes) -> None:
    with pytest.raises(ValidationError) as raised:
        sign_image(image, b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    assert str(raised.value).startswith(
        "the image could not be signed (Secure Boot V2): the signing key is not a readable, unencrypted PEM"
    )


@pytest.fixture(scope="module")
def rsa_2048() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_rsa_2048_is_refused(image: bytes, rsa_2048: rsa.RSAPrivateKey) -> None:
    private_pem = rsa_2048.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = (
        rsa_2048.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(
        ValidationError,
        match=r"could not be signed .*the signing key is RSA-2048; Secure Boot V2 takes RSA-3072 only",
    ):
        sign_image(image, private_pem)
    with pytest.raises(ValidationError, match=r"cannot be used for Secure Boot V2: .*2048 bits"):
        key_digest_hex(public_pem)


@pytest.mark.parametrize(
    "text", ["", "not a key", "-----BEGIN PUBLIC KEY-----\n@@\n-----END PUBLIC KEY-----\n"]
)
def test_public_key_that_is_not_pem(text: str, rsa_signed: bytes) -> None:
    expected = r"the public key is not a PEM-encoded public key \('BEGIN PUBLIC KEY'\)"
    with pytest.raises(ValidationError, match=expected):
        key_digest_hex(text)
    with pytest.raises(ValidationError, match=expected):
        verify_image(rsa_signed, text)
