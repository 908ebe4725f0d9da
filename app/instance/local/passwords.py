"""Password rules and hashing for instance users: scrypt with a random salt, parameters stored with it.

The rules are the ones a person can act on at once: long enough, not the user's own name, not one of
the passwords everyone tries first (a small bundled list, `common_passwords.py`). Storing n, r and p in
the hash string lets a later version raise the cost without breaking old users. Comparison is
constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from app.domain.errors import ValidationError
from app.instance.local.common_passwords import COMMON_PASSWORDS

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_SALT_BYTES = 16
_HASH_BYTES = 32
_SCHEME = "scrypt"


def check_password_rules(password: str, username: str | None = None) -> None:
    """The message never repeats the password: it may end up in a log or on screen."""
    if not isinstance(password, str):
        raise ValidationError("a password must be text")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"the password is too short: at least {MIN_PASSWORD_LENGTH} characters are needed, "
            f"it has {len(password)}"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"the password is too long: at most {MAX_PASSWORD_LENGTH} characters")
    folded = password.strip().casefold()
    if username is not None and folded == username.strip().casefold():
        raise ValidationError("the password cannot be the user name; choose one nobody can guess from it")
    if folded in COMMON_PASSWORDS:
        raise ValidationError(
            "that password is one of the most common ones, which are tried first; choose another"
        )


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join((_SCHEME, str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)))


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != _SCHEME:
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def burn_time(password: str) -> None:
    """Do the work of a verification so that an unknown username takes as long as a wrong password."""
    _scrypt(password, b"\x00" * _SALT_BYTES, SCRYPT_N, SCRYPT_R, SCRYPT_P)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=_HASH_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
