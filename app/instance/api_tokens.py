"""API tokens for automation: long-lived bearer tokens an administrator creates, lists and revokes.

A script on a line PC or in CI cannot type a password, so an administrator creates a named token for it
once. The token acts as the administrator who created it, with that user's current role (a demotion or
a deletion takes effect at once). It is shown once, at creation: the server keeps only its SHA-256, and
a listing shows its name, owner, dates and last use, never the token.

Tokens belong to a served instance (they authenticate HTTP requests), so the built-in instance keeps
them beside its database in the server's own file, and a remote one on its server; both sides offer this
same protocol, and the HTTP routes are built from it as the Instance routes are from `Instance`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from app.domain.records import Page, PageRequest

DEFAULT_DAYS = 365
MAX_DAYS = 3650


@dataclass(frozen=True)
class ApiToken:
    """What is known about a token, never the token itself."""

    name: str
    owner: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = None


@dataclass(frozen=True)
class NewApiToken:
    """A token just created: `token` is shown to the person once and kept nowhere else (nor in a repr)."""

    token: str = field(repr=False)
    api_token: ApiToken = field(repr=True)


@runtime_checkable
class ApiTokenAdmin(Protocol):
    def create_api_token(self, name: str, days: int = DEFAULT_DAYS) -> NewApiToken:
        """A new token acting as the caller (an administrator), valid for `days` days."""
        ...

    def list_api_tokens(self, page: PageRequest = PageRequest()) -> Page[ApiToken]:
        """Tokens by name; `page.search` filters by a substring of the name or the owner."""
        ...

    def revoke_api_token(self, name: str) -> None:
        """The token stops working at once."""
        ...
