"""API tokens for automation: an administrator creates, lists and revokes them; stored hashed; roles hold."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from app.domain.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from app.domain.kinds import Role
from app.domain.records import PageRequest
from app.instance.wire import NotSignedInError
from app.server.server_db import FILE_NAME, ServerDatabase
from tests.server.conftest import PASSWORD, Serving


def _server_file(serving: Serving) -> Path:
    return serving.served.db_path.parent / FILE_NAME


def test_an_administrator_creates_a_token_that_acts_as_them_until_revoked(serving: Serving) -> None:
    serving.add_user("alice", Role.ADMINISTRATOR)
    alice = serving.sign_in("alice")
    created = alice.create_api_token("line-3 script", days=30)
    assert created.token.startswith("qla_") and len(created.token) > 40
    assert created.token not in repr(created)
    info = created.api_token
    assert (info.name, info.owner, info.last_used_at) == ("line-3 script", "alice", None)
    assert 29.9 < (info.expires_at - info.created_at).total_seconds() / 86400 <= 30

    script = serving.client(created.token)
    assert script.info().actor == "alice"
    script.create_batch("made-by-script")
    (listed,) = alice.list_api_tokens().items
    assert listed.last_used_at is not None
    assert (listed.name, listed.owner, listed.created_at) == (info.name, "alice", info.created_at)

    raw = requests.get(
        serving.url + "/v1/api-tokens",
        headers={"Authorization": f"Bearer {alice.token}"},
        verify=str(serving.ca_file),
        timeout=10,
    )
    assert raw.status_code == 200 and created.token not in raw.text
    assert set(raw.json()["items"][0]) == {"name", "owner", "created_at", "expires_at", "last_used_at"}
    assert created.token.encode() not in _server_file(serving).read_bytes()  # only its hash is kept

    alice.revoke_api_token("line-3 script")
    with pytest.raises(NotSignedInError, match="unknown, expired or signed out"):
        script.info()
    assert alice.list_api_tokens().total == 0
    actions = [
        (e.actor, e.action, e.target) for e in alice.list_activity(PageRequest(search="api-token")).items
    ]
    assert actions == [
        ("alice", "api-token.revoke", "line-3 script"),
        ("alice", "api-token.create", "line-3 script"),
    ]
    everything = json.dumps([e.details for e in alice.list_activity(PageRequest(limit=1000)).items])
    assert created.token not in everything


def test_a_contributor_may_not_manage_tokens_and_a_token_keeps_its_owners_role(serving: Serving) -> None:
    serving.add_user("alice", Role.ADMINISTRATOR)
    serving.add_user("bob", Role.CONTRIBUTOR)
    bob = serving.sign_in("bob")
    for attempt in (
        lambda: bob.create_api_token("mine"),
        lambda: bob.list_api_tokens(),
        lambda: bob.revoke_api_token("any"),
    ):
        with pytest.raises(PermissionDeniedError, match="'bob' is a contributor; only an administrator can"):
            attempt()
    alice = serving.sign_in("alice")
    token = alice.create_api_token("ci").token
    alice.create_user("carol", PASSWORD, Role.ADMINISTRATOR)
    carol = serving.sign_in("carol")
    carol.set_user_role("alice", Role.CONTRIBUTOR)  # the token follows its owner's role at once
    with pytest.raises(PermissionDeniedError, match="'alice' is a contributor"):
        serving.client(token).create_user("dave", PASSWORD, Role.CONTRIBUTOR)
    carol.delete_user("alice")
    with pytest.raises(PermissionDeniedError, match="'alice' no longer exists"):
        serving.client(token).info()


def test_bad_token_requests_are_sentences(serving: Serving) -> None:
    admin = serving.admin()
    with pytest.raises(ValidationError, match="valid for 1 to 3650 days; got 0"):
        admin.create_api_token("zero", days=0)
    with pytest.raises(ValidationError, match="API token name cannot be empty"):
        admin.create_api_token("   ")
    admin.create_api_token("ci")
    with pytest.raises(ConflictError, match="an API token named 'CI' already exists"):
        admin.create_api_token("CI")
    with pytest.raises(NotFoundError, match="there is no API token named 'nope'"):
        admin.revoke_api_token("nope")
    assert admin.list_api_tokens(PageRequest(search="c")).total == 1
    assert admin.list_api_tokens(PageRequest(search="zz")).total == 0


def test_an_expired_token_is_401(serving: Serving) -> None:
    admin = serving.admin()
    token = admin.create_api_token("short", days=1).token
    raw = sqlite3.connect(_server_file(serving))
    with raw:
        raw.execute("UPDATE api_tokens SET expires_ms = 0")
    raw.close()
    with pytest.raises(NotSignedInError):
        serving.client(token).info()


def test_a_remembered_token_is_forgotten_when_it_expires_or_is_revoked(tmp_path: Path) -> None:
    tokens = ServerDatabase(tmp_path / FILE_NAME, lifetime=timedelta(milliseconds=400))
    try:
        token = tokens.issue_token("alice")
        assert tokens.cached_user_of(token) is None  # never checked yet: ask the file
        assert tokens.user_of(token) == "alice"
        assert tokens.cached_user_of(token) == "alice"
        time.sleep(0.45)
        assert tokens.cached_user_of(token) is None
        assert tokens.user_of(token) is None
        other = tokens.issue_token("bob")
        assert tokens.user_of(other) == "bob"
        tokens.revoke(other)
        assert tokens.cached_user_of(other) is None
        assert tokens.user_of(other) is None
    finally:
        tokens.close()
