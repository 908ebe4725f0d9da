"""The OS keyring (Secret Service, macOS Keychain, Windows Credential Locker) as the station uses it.

A thin wrapper over the `keyring` package so the rest of the station sees three things only: a secret,
no secret, or a `SecretUnavailableError` saying why the keyring cannot be used. The wrapper never logs a
secret and never puts one in an exception message, even when a backend's own error would quote it.
"""

from __future__ import annotations

import keyring
from keyring.backend import KeyringBackend

from app.domain.errors import SecretUnavailableError

SERVICE = "ql-station"
_PROBE_ACCOUNT = "availability-probe"


def _backend_name(backend: KeyringBackend) -> str:
    kind = type(backend)
    return f"{kind.__module__}.{kind.__name__}"


def _describe(exc: BaseException, secret: str | None = None) -> str:
    """A backend error as text, with the secret removed should a backend ever echo it."""
    detail = str(exc).strip() or type(exc).__name__
    if secret and secret in detail:
        detail = type(exc).__name__
    return detail


class KeyringStore:
    """Secrets of one keyring service (`ql-station` unless a test or a second station says otherwise)."""

    def __init__(self, service: str = SERVICE) -> None:
        self.service = service

    def __repr__(self) -> str:
        return f"KeyringStore(service={self.service!r})"

    def _backend(self) -> KeyringBackend:
        return keyring.get_keyring()

    def _usable_backend(self) -> KeyringBackend | None:
        """The current backend when it can store secrets, else None (fail/null backends, empty chains)."""
        try:
            backend = self._backend()
            priority = float(backend.priority)
        except Exception:
            return None
        return backend if priority > 0 else None

    def available(self) -> bool:
        """True when a real backend answers. A locked or unreachable keyring (no D-Bus session) is False."""
        backend = self._usable_backend()
        if backend is None:
            return False
        try:
            backend.get_password(self.service, _PROBE_ACCOUNT)
        except Exception:
            return False
        return True

    def _require_backend(self) -> KeyringBackend:
        backend = self._usable_backend()
        if backend is None:
            raise SecretUnavailableError(
                "no OS keyring is available on this computer (install or unlock a keyring service such "
                "as GNOME Keyring or KWallet, or configure one for the Python 'keyring' package)"
            )
        return backend

    def get(self, account: str) -> str | None:
        """The secret stored under `account`, or None when there is none."""
        backend = self._require_backend()
        try:
            return backend.get_password(self.service, account)
        except Exception as exc:
            raise SecretUnavailableError(
                f"could not read {account!r} from the OS keyring ({_backend_name(backend)}): {_describe(exc)}"
            ) from None

    def set(self, account: str, secret: str) -> None:
        """Store `secret` under `account`, replacing any earlier value, and check it reads back."""
        backend = self._require_backend()
        try:
            backend.set_password(self.service, account, secret)
            stored = backend.get_password(self.service, account)
        except Exception as exc:
            raise SecretUnavailableError(
                f"could not store {account!r} in the OS keyring ({_backend_name(backend)}): "
                f"{_describe(exc, secret)}"
            ) from None
        if stored != secret:
            raise SecretUnavailableError(
                f"the OS keyring ({_backend_name(backend)}) accepted {account!r} but does not give it back; "
                "it cannot hold the station's secrets"
            )

    def delete(self, account: str) -> None:
        """Remove `account`. Deleting an absent entry, or with no keyring at all, is not an error."""
        backend = self._usable_backend()
        if backend is None:
            return
        try:
            if backend.get_password(self.service, account) is None:
                return
            backend.delete_password(self.service, account)
        except Exception as exc:
            raise SecretUnavailableError(
                f"could not delete {account!r} from the OS keyring ({_backend_name(backend)}): "
                f"{_describe(exc)}"
            ) from None
