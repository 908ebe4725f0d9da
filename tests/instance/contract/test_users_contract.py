"""The Instance contract for users, roles, permissions and the activity log."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from app.domain.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from app.domain.kinds import KeyType, Role
from app.domain.records import PageRequest
from app.instance.api import Instance

InstanceFactory = Callable[..., Instance]
PASSWORD = "correct horse battery"


# --- users ---------------------------------------------------------------------------------------


def test_create_and_list_users(instance: Instance) -> None:
    alice = instance.create_user("alice", PASSWORD, Role.ADMINISTRATOR)
    bob = instance.create_user("Bob_2", PASSWORD, Role.CONTRIBUTOR)
    assert (alice.username, alice.role) == ("alice", Role.ADMINISTRATOR)
    assert (bob.username, bob.role) == ("Bob_2", Role.CONTRIBUTOR)
    page = instance.list_users()
    assert page.items == (alice, bob)
    assert page.total == 2
    assert instance.list_users(PageRequest(search="contrib")).items == (bob,)
    second = instance.list_users(PageRequest(offset=1, limit=1))
    assert (second.items, second.has_more) == ((bob,), False)


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("", PASSWORD, "username cannot be empty"),
        ("bad name", PASSWORD, "may contain only letters, digits, '-' and '_'; ' ' is not allowed"),
        ("x" * 65, PASSWORD, "username is 65 characters; at most 64"),
        ("carol", "Zq9#xY", "the password is too short: at least 8 characters are needed, it has 6"),
    ],
)
def test_bad_users_are_refused(instance: Instance, username: str, password: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        instance.create_user(username, password, Role.CONTRIBUTOR)
    assert password not in str(caught.value) or password == PASSWORD
    assert instance.list_users().total == 0


def test_usernames_are_unique_whatever_the_case(instance: Instance) -> None:
    instance.create_user("alice", PASSWORD, Role.ADMINISTRATOR)
    with pytest.raises(ConflictError, match="a user named 'ALICE' already exists"):
        instance.create_user("ALICE", PASSWORD, Role.CONTRIBUTOR)


def test_set_role_and_delete(instance: Instance) -> None:
    instance.create_user("alice", PASSWORD, Role.ADMINISTRATOR)
    instance.create_user("bob", PASSWORD, Role.CONTRIBUTOR)
    promoted = instance.set_user_role("bob", Role.ADMINISTRATOR)
    assert promoted.role is Role.ADMINISTRATOR
    assert instance.set_user_role("alice", Role.CONTRIBUTOR).role is Role.CONTRIBUTOR
    instance.delete_user("alice")
    assert [u.username for u in instance.list_users().items] == ["bob"]
    with pytest.raises(NotFoundError, match="there is no user named 'alice'"):
        instance.delete_user("alice")
    with pytest.raises(NotFoundError, match="there is no user named 'zed'"):
        instance.set_user_role("zed", Role.CONTRIBUTOR)


def test_the_last_administrator_stays(instance: Instance) -> None:
    instance.create_user("alice", PASSWORD, Role.ADMINISTRATOR)
    instance.create_user("bob", PASSWORD, Role.CONTRIBUTOR)
    with pytest.raises(ConflictError, match="'alice' is the last administrator and cannot be demoted"):
        instance.set_user_role("alice", Role.CONTRIBUTOR)
    with pytest.raises(ConflictError, match="'alice' is the last administrator and cannot be deleted"):
        instance.delete_user("alice")
    assert {u.username: u.role for u in instance.list_users().items}["alice"] is Role.ADMINISTRATOR
    instance.delete_user("bob")


# --- permissions ---------------------------------------------------------------------------------


def test_contributor_cannot_manage_users(instance_factory: InstanceFactory) -> None:
    admin = instance_factory()
    admin.create_user("alice", PASSWORD, Role.ADMINISTRATOR)
    admin.create_user("bob", PASSWORD, Role.CONTRIBUTOR)
    bob = instance_factory(actor="bob")
    assert (bob.info().actor, bob.info().role) == ("bob", Role.CONTRIBUTOR)
    message = "'bob' is a contributor; only an administrator can create, change or delete users"
    with pytest.raises(PermissionDeniedError, match=message):
        bob.create_user("eve", PASSWORD, Role.ADMINISTRATOR)
    with pytest.raises(PermissionDeniedError, match=message):
        bob.set_user_role("bob", Role.ADMINISTRATOR)
    with pytest.raises(PermissionDeniedError, match=message):
        bob.delete_user("alice")
    assert [u.username for u in bob.list_users().items] == ["alice", "bob"]


def test_contributor_does_everything_else(instance_factory: InstanceFactory) -> None:
    instance_factory().create_user("bob", PASSWORD, Role.CONTRIBUTOR)
    bob = instance_factory(actor="bob")
    bob.create_batch("by-bob")
    bob.create_signing_key("bob-key", KeyType.ECDSA_P256)
    bob.set_instance_params("bob.example.com", 6001)
    entry = bob.list_activity(PageRequest(search="by-bob")).items[0]
    assert (entry.actor, entry.action, entry.target) == ("bob", "batch.create", "by-bob")


def test_a_demotion_applies_at_once(instance_factory: InstanceFactory) -> None:
    admin = instance_factory()
    admin.create_user("alice", PASSWORD, Role.ADMINISTRATOR)
    admin.create_user("carol", PASSWORD, Role.ADMINISTRATOR)
    carol = instance_factory(actor="carol")
    carol.create_user("dave", PASSWORD, Role.CONTRIBUTOR)
    admin.set_user_role("carol", Role.CONTRIBUTOR)
    with pytest.raises(PermissionDeniedError, match="'carol' is a contributor"):
        carol.create_user("erin", PASSWORD, Role.CONTRIBUTOR)


# --- activity ------------------------------------------------------------------------------------


def test_every_change_is_logged_newest_first(instance: Instance) -> None:
    start = instance.list_activity().total
    instance.create_batch("logged")
    instance.create_signing_key("logged-key", KeyType.ECDSA_P256)
    instance.create_user("alice", PASSWORD, Role.ADMINISTRATOR)
    instance.set_instance_params("logged.example.com", 7000)
    page = instance.list_activity()
    assert page.total == start + 4
    actions = [(e.action, e.target) for e in page.items[:4]]
    assert actions == [
        ("instance.set-params", "ief-endpoint"),
        ("user.create", "alice"),
        ("key.create", "logged-key"),
        ("batch.create", "logged"),
    ]
    actor = instance.info().actor
    assert all(entry.actor == actor for entry in page.items[:4])
    times = [entry.at for entry in page.items]
    assert times == sorted(times, reverse=True)


def test_activity_pages_and_searches(instance: Instance) -> None:
    for n in range(7):
        instance.create_batch(f"paged-{n}")
    everything = instance.list_activity(PageRequest(limit=1000))
    second = instance.list_activity(PageRequest(offset=2, limit=3))
    assert second.items == everything.items[2:5]
    assert (second.total, second.has_more) == (everything.total, True)
    found = instance.list_activity(PageRequest(search="PAGED-3"))
    assert [e.target for e in found.items] == ["paged-3"]
    by_action = instance.list_activity(PageRequest(search="batch.create"))
    assert by_action.total == 7
    by_details = instance.list_activity(PageRequest(search="policy default"))
    assert by_details.total == 7


def test_failed_changes_leave_no_activity(instance: Instance) -> None:
    instance.create_batch("once")
    before = instance.list_activity().total
    with pytest.raises(ConflictError):
        instance.create_batch("once")
    with pytest.raises(ValidationError):
        instance.create_user("x", "short", Role.CONTRIBUTOR)
    assert instance.list_activity().total == before


def test_passwords_never_reach_the_log(instance: Instance) -> None:
    instance.create_user("alice", PASSWORD, Role.ADMINISTRATOR)
    instance.create_user("bob", "another secret pw", Role.CONTRIBUTOR)
    for entry in instance.list_activity(PageRequest(limit=1000)).items:
        text = " ".join((entry.actor, entry.action, entry.target, entry.details))
        assert PASSWORD not in text
        assert "another secret pw" not in text


def test_a_discarded_device_push_is_in_the_activity_log(instance_factory: InstanceFactory) -> None:
    instance = instance_factory()
    device = hashlib.sha256(b"discarded board").hexdigest()
    instance.discard_device_push(device, "line-7", "board scrapped: cracked antenna")
    (entry,) = instance.list_activity(PageRequest(search="push-discarded")).items
    assert (entry.action, entry.target) == ("device.push-discarded", device)
    assert entry.details == "not pushed to batch 'line-7': board scrapped: cracked antenna"
    assert entry.actor == instance.info().actor
    with pytest.raises(ValidationError, match="say why"):
        instance.discard_device_push(device, "line-7", "   ")
    with pytest.raises(ValidationError):
        instance.discard_device_push("not-an-id", "line-7", "why")
