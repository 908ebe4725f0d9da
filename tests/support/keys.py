"""Throwaway Secure Boot V2 keys, generated at test time and never committed."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def write_rsa_key(path: Path) -> Path:
    """A fresh RSA-3072 private key as unencrypted PEM at `path` (what espsecure reads)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return path
