"""Secure Boot V2 keys, signatures and key digests, made by espsecure itself.

A board's ROM checks the bootloader (and the bootloader the app) against the key digest burned into its
eFuses, so the station signs exactly as Espressif's own tool does: espsecure is called as a library with
the image and the key in memory. The private key never touches the disk; only the signed image (not a
secret) passes through a private temporary folder, because espsecure writes its output to a path.

espsecure reports through esptool's process-wide logger, which prints to stdout. Calls are serialized
and their output swallowed, so nothing lands in the CLI's stdout or a port worker's event stream.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from app.domain.errors import ValidationError
from app.domain.kinds import KeyType

SECTOR_SIZE = 4096
_SBV2 = "2"  # espsecure compares with the string "2"; an int silently does nothing
_SIG_BLOCKS_PER_SECTOR = 3  # a Secure Boot V2 signature sector holds up to three blocks
_lock = threading.RLock()


@dataclass(frozen=True)
class GeneratedKey:
    """A new signing key: the private part (PKCS#8 PEM, to be encrypted at once) and its public facts."""

    private_key_pem: bytes = field(repr=False)
    public_key_pem: str
    key_digest_hex: str


@contextlib.contextmanager
def _espsecure() -> Iterator[Any]:
    """espsecure, imported late (esptool installs its logger on import) and with its output swallowed."""
    with _lock, contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        import espsecure

        yield espsecure


def _named(data: bytes, name: str) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name  # espsecure prints `datafile.name`
    return handle


def _public_key(public_key_pem: str) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise ValidationError("the public key is not a PEM-encoded public key ('BEGIN PUBLIC KEY')") from None
    if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return key
    raise ValidationError("Secure Boot V2 keys are RSA-3072 or ECDSA; this public key is neither")


def describe_key(public_key_pem: str) -> str:
    """'RSA-3072' or 'ECDSA P-256' and the like, for messages."""
    key = _public_key(public_key_pem)
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    return f"ECDSA {key.curve.name}"


def generate_signing_key(key_type: KeyType) -> GeneratedKey:
    """A new key of `key_type`. RSA-3072 takes about a second or more: never on the GUI thread."""
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if key_type is KeyType.RSA_3072:
        private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    elif key_type is KeyType.ECDSA_P256:
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValidationError(f"unsupported signing key type {key_type!r}")
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return GeneratedKey(
        private_key_pem=private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        public_key_pem=public_pem,
        key_digest_hex=key_digest_hex(public_pem),
    )


def key_digest_hex(public_key_pem: str) -> str:
    """SHA-256 of the key as a signature block holds it: the 32 bytes burned into a chip's eFuse (hex)."""
    _public_key(public_key_pem)
    with _espsecure() as espsecure:
        try:
            digest: bytes = espsecure._digest_sbv2_public_key(
                _named(public_key_pem.encode("ascii"), "key.pem")
            )
        except Exception as exc:
            raise ValidationError(f"this key cannot be used for Secure Boot V2: {exc}") from None
    return digest.hex()


def _has_signature_sector(image: bytes, espsecure: Any) -> bool:
    if len(image) < SECTOR_SIZE or len(image) % SECTOR_SIZE:
        return False
    return espsecure.validate_signature_block(image, 0) is not None


def _has_block_for(signed: bytes, key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey, espsecure: Any) -> bool:
    """Whether a valid signature block was made with this kind of key (its version byte says which).

    espsecure itself finds out late, and not reliably: given an ECDSA key and an RSA block, it reads a
    byte of the RSA modulus as a curve id and, when that byte happens to be one, fails with a plain
    "could not be verified" instead of an assertion (about 1 key in 64; a test flaked on it).
    """
    rsa_key = isinstance(key, rsa.RSAPublicKey)
    wanted = espsecure.SIG_BLOCK_VERSION_RSA if rsa_key else espsecure.SIG_BLOCK_VERSION_ECDSA
    blocks = (espsecure.validate_signature_block(signed, n) for n in range(_SIG_BLOCKS_PER_SECTOR))
    return any(block is not None and block[1] == wanted for block in blocks)


def sign_image(image: bytes, private_key_pem: bytes) -> bytes:
    """`image` padded with 0xFF to 4 KiB, followed by a signature sector with one block by the key.

    We compute the signature ourselves and hand it to espsecure as a pre-calculated one (its HSM path),
    which builds the block and checks the signature against the public key. Why: loading an RSA private
    key makes `cryptography` validate it for ~120 ms while holding the GIL, which froze the station
    window for every image signed. The key is the instance's own, generated here and decrypted from
    authenticated (AES-GCM) storage, so that validation protects against nothing; it is skipped.
    """
    if not image:
        raise ValidationError("there is no image to sign (it is empty)")
    padded = image + b"\xff" * (-len(image) % SECTOR_SIZE)
    with _espsecure() as espsecure, tempfile.TemporaryDirectory(prefix="ql-sbv2-") as folder:
        if _has_signature_sector(image, espsecure):
            raise ValidationError(
                "the image is already signed (it ends in a Secure Boot V2 signature sector); "
                "import the unsigned build instead"
            )
        output = Path(folder) / "signed.bin"
        try:
            signature, public_pem = _sbv2_signature(padded, private_key_pem)
            espsecure.sign_data(
                _SBV2,
                [],
                str(output),
                False,
                False,
                None,
                [_named(public_pem, "key.pub.pem")],
                [_named(signature, "signature")],
                _named(padded, "image"),
            )
            return output.read_bytes()
        except ValidationError as exc:
            raise ValidationError(f"the image could not be signed (Secure Boot V2): {exc}") from None
        except Exception as exc:
            raise ValidationError(f"the image could not be signed (Secure Boot V2): {_reason(exc)}") from None


def _sbv2_signature(contents: bytes, private_key_pem: bytes) -> tuple[bytes, bytes]:
    """(signature, public key PEM) as Secure Boot V2 wants them: RSA-PSS (MGF1 SHA-256, 32-byte salt) or
    ECDSA (DER), both over SHA-256 of the sector-aligned contents."""
    try:
        key = serialization.load_pem_private_key(private_key_pem, None, unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError):
        raise ValidationError("the signing key is not a readable, unencrypted PEM private key") from None
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size != 3072:
        raise ValidationError(f"the signing key is RSA-{key.key_size}; Secure Boot V2 takes RSA-3072 only")
    digest = hashlib.sha256(contents).digest()
    prehashed = utils.Prehashed(hashes.SHA256())
    if isinstance(key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        signature = key.sign(digest, pss, prehashed)
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(digest, ec.ECDSA(prehashed))
    else:
        raise ValidationError("the signing key is not an RSA-3072 or ECDSA PEM private key")
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return signature, public_pem


def _reason(exc: BaseException) -> str:
    """espsecure's message when it is one of its own (never key material), else only the kind of failure."""
    if type(exc).__name__ == "FatalError" and str(exc):
        return str(exc)
    return f"the signing key is not an RSA-3072 or ECDSA PEM private key ({type(exc).__name__})"


def verify_image(signed: bytes, public_key_pem: str) -> None:
    """Pass when a signature block of `signed` verifies with the key; else say what is wrong."""
    kind = describe_key(public_key_pem)
    digest = key_digest_hex(public_key_pem)
    with _espsecure() as espsecure:
        if not _has_signature_sector(signed, espsecure):
            raise ValidationError(
                "the image carries no valid Secure Boot V2 signature (it is unsigned, cut short, or its "
                "signature sector is damaged)"
            )
        if not _has_block_for(signed, _public_key(public_key_pem), espsecure):
            raise ValidationError(
                f"the image is not signed by this {kind} key (digest {digest}): it carries a signature made "
                "with another kind of key"
            )
        key_fh = _named(public_key_pem.encode("ascii"), "key.pem")
        try:
            espsecure.verify_signature(_SBV2, False, None, key_fh, _named(signed, "image"))
        except AssertionError:
            raise ValidationError(
                f"the image is not signed by this {kind} key (digest {digest}): it carries a signature made "
                "with another kind of key"
            ) from None
        except Exception as exc:
            if "digest does not match" in str(exc):
                raise ValidationError(
                    "the image was changed after it was signed: its contents no longer match the digest in "
                    "its signature block"
                ) from None
            raise ValidationError(f"the image is not signed by this {kind} key (digest {digest})") from None


def sign_verified(image: bytes, private_key_pem: bytes, public_key_pem: str, what: str) -> bytes:
    """`sign_image`, then the result verified with the key's public part before anyone uses it; `what`
    names the image and key in the refusal ("the ief image 'x' signed with key 'k'")."""
    signed = sign_image(image, private_key_pem)
    try:
        verify_image(signed, public_key_pem)
    except ValidationError as exc:
        raise ValidationError(f"{what} does not verify: {exc}") from None
    return signed
