"""`ApiTokenAdmin` for one acting user of a served instance: the server's token file plus the instance.

The tokens live in the server's own database (they authenticate HTTP requests); who may manage them and
the record of who did comes from the instance: only an administrator may, and every creation and
revocation is in the instance's activity log, naming the token, never showing it.

Used by the HTTP API (as the signed-in user) and by `ql-station token` on the data folder of a built-in
instance (as its signed-in user), so both enforce the same rule.
"""

from __future__ import annotations

from app.domain.errors import NotFoundError, PermissionDeniedError, ValidationError
from app.domain.kinds import Role
from app.domain.names import validate_name
from app.domain.records import Page, PageRequest
from app.instance.api_tokens import DEFAULT_DAYS, MAX_DAYS, ApiToken, NewApiToken
from app.instance.local.instance import LocalInstance
from app.server.server_db import ServerDatabase


class ServedApiTokens:
    def __init__(self, tokens: ServerDatabase, instance: LocalInstance) -> None:
        self._tokens = tokens
        self._instance = instance

    def _administrator(self, what: str) -> str:
        info = self._instance.info()
        if info.role is not Role.ADMINISTRATOR:
            raise PermissionDeniedError(
                f"{info.actor!r} is a contributor; only an administrator can {what} API tokens"
            )
        return info.actor

    def create_api_token(self, name: str, days: int = DEFAULT_DAYS) -> NewApiToken:
        token_name = validate_name(name, "API token")
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
            raise ValidationError(f"an API token is valid for 1 to {MAX_DAYS} days; got {days!r}")
        owner = self._administrator("create")
        created = self._tokens.create_api_token(token_name, owner, days)
        expires = created.api_token.expires_at.date().isoformat()
        self._instance.note("api-token.create", token_name, f"acts as {owner}, expires {expires}")
        return created

    def list_api_tokens(self, page: PageRequest = PageRequest()) -> Page[ApiToken]:
        self._administrator("list")
        return self._tokens.list_api_tokens(page)

    def revoke_api_token(self, name: str) -> None:
        self._administrator("revoke")
        revoked = self._tokens.revoke_api_token(name.strip())
        if revoked is None:
            raise NotFoundError(f"there is no API token named {name.strip()!r}")
        self._instance.note("api-token.revoke", revoked.name, f"acted as {revoked.owner}")
