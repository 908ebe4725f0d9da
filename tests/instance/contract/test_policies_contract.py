"""The Instance contract for policies: the terms batches enrol under, and which batch uses which."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain.errors import ConflictError, NotFoundError, ValidationError
from app.domain.kinds import ConnectionType
from app.domain.records import PageRequest
from app.instance.api import DEFAULT_POLICY, Instance


def test_the_default_policy_is_there_from_the_start(instance: Instance) -> None:
    default = instance.get_policy(DEFAULT_POLICY)
    assert (default.connection, default.certificate_days, default.auto_renew, default.jwt_minutes) == (
        ConnectionType.NONE,
        365,
        True,
        60,
    )
    assert [p.name for p in instance.list_policies().items] == [DEFAULT_POLICY]


def test_create_policy_returns_what_get_policy_reads_back(instance: Instance) -> None:
    created = instance.create_policy(
        "  short-lived ",
        connection=ConnectionType.IOT_HUB,
        certificate_days=30,
        auto_renew=False,
        jwt_minutes=15,
    )
    assert (created.name, created.connection, created.certificate_days) == (
        "short-lived",
        ConnectionType.IOT_HUB,
        30,
    )
    assert (created.auto_renew, created.jwt_minutes, created.batches) == (False, 15, 0)
    assert abs((datetime.now(UTC) - created.created_at).total_seconds()) < 60
    assert instance.get_policy("short-lived") == created


def test_a_new_policy_takes_the_default_terms(instance: Instance) -> None:
    policy = instance.create_policy("plain")
    default = instance.get_policy(DEFAULT_POLICY)
    assert (policy.connection, policy.certificate_days, policy.auto_renew, policy.jwt_minutes) == (
        default.connection,
        default.certificate_days,
        default.auto_renew,
        default.jwt_minutes,
    )


def test_policy_names_are_unique(instance: Instance) -> None:
    instance.create_policy("p")
    with pytest.raises(ConflictError, match="a policy named 'p' already exists"):
        instance.create_policy("p")
    with pytest.raises(ConflictError, match="a policy named 'default' already exists"):
        instance.create_policy(DEFAULT_POLICY)


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ({"certificate_days": 0}, "a device certificate's lifetime must be 1 to 36,500 days; got 0"),
        ({"certificate_days": 36_501}, "must be 1 to 36,500 days; got 36501"),
        ({"jwt_minutes": 0}, "a JWT's lifetime must be 1 to 10,080 minutes; got 0"),
        ({"connection": "mqtt"}, "connection type must be one of none, iot-hub, database-direct"),
    ],
)
def test_bad_terms_are_refused(instance: Instance, terms: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        instance.create_policy("bad", **terms)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=message):
        instance.update_policy(DEFAULT_POLICY, **terms)  # type: ignore[arg-type]
    assert instance.list_policies().total == 1
    assert instance.get_policy(DEFAULT_POLICY).certificate_days == 365


def test_bad_policy_names_are_refused(instance: Instance) -> None:
    with pytest.raises(ValidationError, match="policy name cannot be empty"):
        instance.create_policy("  ")
    with pytest.raises(ValidationError, match="policy name is 65 characters; at most 64"):
        instance.create_policy("x" * 65)


def test_unknown_policy_is_not_found_and_the_error_lists_what_exists(instance: Instance) -> None:
    instance.create_policy("factory")
    for call in (
        lambda: instance.get_policy("nope"),
        lambda: instance.update_policy("nope", certificate_days=3),
        lambda: instance.delete_policy("nope"),
    ):
        with pytest.raises(NotFoundError, match=r"there is no policy named 'nope'.*default, factory"):
            call()


def test_list_policies_pages_by_name_with_search(instance: Instance) -> None:
    for name in ("line-b", "line-a"):
        instance.create_policy(name)
    instance.create_policy("lab", connection=ConnectionType.DATABASE_DIRECT)
    first = instance.list_policies(PageRequest(offset=0, limit=2))
    assert [p.name for p in first.items] == ["default", "lab"]
    assert (first.total, first.has_more) == (4, True)
    assert [p.name for p in instance.list_policies(PageRequest(offset=3)).items] == ["line-b"]
    assert [p.name for p in instance.list_policies(PageRequest(search="LINE")).items] == ["line-a", "line-b"]
    assert [p.name for p in instance.list_policies(PageRequest(search="database")).items] == ["lab"]


def test_update_policy_changes_only_what_is_given(instance: Instance) -> None:
    created = instance.create_policy("p", certificate_days=30, jwt_minutes=15)
    updated = instance.update_policy("p", auto_renew=False)
    assert (updated.certificate_days, updated.auto_renew, updated.jwt_minutes) == (30, False, 15)
    assert updated.created_at == created.created_at
    again = instance.update_policy("p", connection=ConnectionType.IOT_HUB, certificate_days=90, jwt_minutes=5)
    assert (again.connection, again.certificate_days, again.auto_renew, again.jwt_minutes) == (
        ConnectionType.IOT_HUB,
        90,
        False,
        5,
    )
    assert instance.get_policy("p") == again


def test_a_batch_needs_an_existing_policy(instance: Instance) -> None:
    with pytest.raises(NotFoundError, match=r"no policy named 'strict'; create it first .*default"):
        instance.create_batch("b", policy="strict")
    assert instance.list_batches().total == 0
    instance.create_policy("strict")
    assert instance.create_batch("b", policy="strict").policy == "strict"


def test_listings_count_the_batches_using_each_policy(instance: Instance) -> None:
    instance.create_policy("factory")
    instance.create_batch("a", policy="factory")
    instance.create_batch("b", policy="factory")
    instance.create_batch("c")
    counts = {p.name: p.batches for p in instance.list_policies().items}
    assert counts == {"default": 1, "factory": 2}
    assert instance.get_policy("factory").batches == 2


def test_set_batch_policy(instance: Instance) -> None:
    instance.create_policy("factory")
    instance.create_batch("b")
    changed = instance.set_batch_policy("b", "factory")
    assert changed.policy == "factory"
    assert instance.get_batch("b") == changed
    with pytest.raises(NotFoundError, match="there is no policy named 'gone'"):
        instance.set_batch_policy("b", "gone")
    with pytest.raises(NotFoundError, match="there is no batch named 'nope'"):
        instance.set_batch_policy("nope", "factory")
    assert instance.get_batch("b").policy == "factory"


def test_a_policy_in_use_cannot_be_deleted_and_the_error_names_its_batches(instance: Instance) -> None:
    instance.create_policy("factory")
    instance.create_batch("line-1", policy="factory")
    instance.create_batch("line-2", policy="factory")
    with pytest.raises(
        ConflictError,
        match=r"policy 'factory' cannot be deleted: batches 'line-1', 'line-2' use it.*batch set-policy",
    ):
        instance.delete_policy("factory")
    instance.set_batch_policy("line-1", DEFAULT_POLICY)
    with pytest.raises(ConflictError, match=r"batch 'line-2' uses it. Give it another policy first"):
        instance.delete_policy("factory")
    instance.delete_batch("line-2")
    instance.delete_policy("factory")
    with pytest.raises(NotFoundError, match="there is no policy named 'factory'"):
        instance.get_policy("factory")


def test_a_refused_delete_names_a_few_batches_and_counts_the_rest(instance: Instance) -> None:
    instance.create_policy("busy")
    for n in range(7):
        instance.create_batch(f"b{n}", policy="busy")
    with pytest.raises(ConflictError, match=r"batches 'b0', 'b1', 'b2', 'b3', 'b4' and 2 more use it"):
        instance.delete_policy("busy")


def test_the_default_policy_cannot_be_deleted(instance: Instance) -> None:
    with pytest.raises(ConflictError, match=r"'default' policy cannot be deleted.*Edit its terms"):
        instance.delete_policy(DEFAULT_POLICY)
    assert instance.update_policy(DEFAULT_POLICY, certificate_days=730).certificate_days == 730


def test_every_policy_change_is_in_the_activity_log(instance: Instance) -> None:
    instance.create_policy("p", certificate_days=30)
    instance.update_policy("p", auto_renew=False)
    instance.create_batch("b")
    instance.set_batch_policy("b", "p")
    instance.set_batch_policy("b", DEFAULT_POLICY)
    instance.delete_policy("p")
    entries = [(a.action, a.target, a.details) for a in reversed(instance.list_activity().items)]
    ours = [e for e in entries if e[0].startswith("policy.") or e[0] == "batch.set-policy"]
    assert ours == [
        ("policy.create", "p", "certificates 30 days, auto-renew, JWT 60 min, connection none"),
        (
            "policy.update",
            "p",
            "certificates 30 days, auto-renew, JWT 60 min, connection none -> "
            "certificates 30 days, no auto-renew, JWT 60 min, connection none",
        ),
        ("batch.set-policy", "b", "policy default -> p"),
        ("batch.set-policy", "b", "policy p -> default"),
        ("policy.delete", "p", "was certificates 30 days, no auto-renew, JWT 60 min, connection none"),
    ]


def test_refused_policy_changes_leave_no_activity(instance: Instance) -> None:
    before = instance.list_activity().total
    with pytest.raises(ConflictError):
        instance.delete_policy(DEFAULT_POLICY)
    with pytest.raises(ValidationError):
        instance.create_policy("p", certificate_days=-1)
    assert instance.list_activity().total == before
