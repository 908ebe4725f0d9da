"""The local instance beyond the contract: opening, reopening, actors, sign-in, and the lazy key unlock.

Every test uses a real SQLite file and the test keyring from the root conftest (or none at all with
`no_keyring`). RSA keys are generated where signing is the point of the test, and only there.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.domain.chips import ChipType
from app.domain.errors import NotFoundError, PermissionDeniedError, SecretUnavailableError, ValidationError
from app.domain.kinds import BootloaderKind, DeviceState, IefKind, KeyType, Role
from app.domain.records import PageRequest
from app.instance.local.instance import LocalInstance
from app.instance.local.key_protection import WrongPassphraseError

PASSWORD = "s3cret-pass-word"
PASSPHRASE = "a long test passphrase"


class Prompt:
    """A passphrase prompt that records how often it was asked."""

    def __init__(self, answer: str | None) -> None:
        self.answer = answer
        self.asked: list[tuple[str, bool]] = []

    def __call__(self, reason: str, is_new: bool) -> str | None:
        self.asked.append((reason, is_new))
        return self.answer


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "instance" / "local.sqlite3"


@pytest.fixture(scope="module")
def signing_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A keyring-protected instance with an RSA key and a task, made once (keyring entry is session-wide)."""
    path = tmp_path_factory.mktemp("signing-db") / "local.sqlite3"
    with LocalInstance.open(path) as instance:
        instance.create_signing_key("rsa", KeyType.RSA_3072)
        instance.create_task("task", ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, "rsa")
    return path


@pytest.fixture
def signing_copy(signing_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy.sqlite3"
    shutil.copyfile(signing_db, copy)
    return copy


@pytest.fixture
def opened(db_path: Path) -> Iterator[Callable[..., LocalInstance]]:
    handles: list[LocalInstance] = []

    def open_(**kwargs: object) -> LocalInstance:
        handle = LocalInstance.open(db_path, **kwargs)  # type: ignore[arg-type]
        handles.append(handle)
        return handle

    yield open_
    for handle in handles:
        handle.close()


# --- opening and reopening -----------------------------------------------------------------------


def test_reopen_keeps_everything(db_path: Path, device_ids: Callable[..., list[str]]) -> None:
    ids = device_ids(3)
    with LocalInstance.open(db_path) as first:
        info = first.info()
        certs = first.certificates()
        first.create_policy("p1", certificate_days=30)
        first.create_batch("kept", policy="p1")
        first.add_devices("kept", ids)
        first.set_device_state([ids[0]], DeviceState.ENROLLED)
        key = first.create_signing_key("ec", KeyType.ECDSA_P256)
        first.create_user("alice", PASSWORD, Role.ADMINISTRATOR)
        first.set_instance_params("kept.example.com", 7001)
        activity = first.list_activity().items
    with LocalInstance.open(db_path) as second:
        assert second.info() == info
        assert second.certificates() == certs
        batch = second.get_batch("kept")
        assert (batch.policy, batch.counts.enrolled, batch.counts.registered) == ("p1", 1, 2)
        assert (second.get_policy("p1").certificate_days, second.get_policy("p1").batches) == (30, 1)
        assert [d.device_id for d in second.list_devices("kept").items] == ids
        assert second.get_signing_key("ec") == key
        assert [u.username for u in second.list_users().items] == ["alice"]
        params = second.instance_params()
        assert (params.endpoint, params.port) == ("kept.example.com", 7001)
        assert second.list_activity().items == activity
        assert second.list_images().total == 20


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ({"certificate_days": 1.5}, "a device certificate's lifetime must be a whole number of days"),
        ({"certificate_days": True}, "a device certificate's lifetime must be a whole number of days"),
        ({"jwt_minutes": "60"}, "a JWT's lifetime must be a whole number of minutes"),
        ({"auto_renew": "yes"}, "auto-renew must be true or false"),
        ({"certificate_days": 10**5000}, "must be 1 to 36,500 days; got a 16610-bit number"),
    ],
)
def test_policy_terms_of_the_wrong_type_are_refused_by_the_local_instance(
    opened: Callable[..., LocalInstance], terms: dict[str, object], message: str
) -> None:
    """The wire refuses these by type before they arrive; a caller in this process gets the same care."""
    instance = opened()
    with pytest.raises(ValidationError, match=message):
        instance.create_policy("p", **terms)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=message):
        instance.update_policy("default", **terms)  # type: ignore[arg-type]
    assert [p.name for p in instance.list_policies().items] == ["default"]


def test_two_handles_on_one_file_see_each_other(opened: Callable[..., LocalInstance]) -> None:
    gui, cli = opened(), opened()
    cli.create_batch("from-cli")
    assert [b.name for b in gui.list_batches().items] == ["from-cli"]
    assert gui.info().name == cli.info().name


def test_threads_share_one_instance(
    opened: Callable[..., LocalInstance], device_ids: Callable[..., list[str]]
) -> None:
    instance = opened()
    instance.create_batch("busy")
    errors: list[BaseException] = []

    def add(tag: str) -> None:
        try:
            for n in range(10):
                instance.add_devices("busy", device_ids(20, tag=f"{tag}-{n}"))
                instance.list_batches()
                instance.dashboard_summary()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert instance.get_batch("busy").counts.total == 800
    assert instance.list_devices("busy", PageRequest(offset=799, limit=5)).total == 800


def test_closed_instance_refuses_work(db_path: Path) -> None:
    instance = LocalInstance.open(db_path)
    instance.close()
    with pytest.raises(Exception, match="is closed"):
        instance.list_batches()


# --- actors and sign-in --------------------------------------------------------------------------


def test_default_actor_is_the_local_station_account(opened: Callable[..., LocalInstance]) -> None:
    info = opened().info()
    assert (info.actor, info.role, info.kind) == ("station", Role.ADMINISTRATOR, "local")


def test_station_is_a_reserved_username(opened: Callable[..., LocalInstance]) -> None:
    with pytest.raises(Exception, match="'station' is the built-in local account"):
        opened().create_user("Station", PASSWORD, Role.ADMINISTRATOR)


def test_unknown_actor_cannot_open(opened: Callable[..., LocalInstance]) -> None:
    opened()
    with pytest.raises(NotFoundError, match="there is no user named 'ghost' on this instance"):
        opened(actor="ghost")


def test_actor_name_is_matched_without_case(opened: Callable[..., LocalInstance]) -> None:
    opened().create_user("Alice", PASSWORD, Role.CONTRIBUTOR)
    info = opened(actor="alice").info()
    assert (info.actor, info.role) == ("Alice", Role.CONTRIBUTOR)


def test_authenticate(opened: Callable[..., LocalInstance]) -> None:
    instance = opened()
    instance.create_user("alice", PASSWORD, Role.CONTRIBUTOR)
    user = instance.authenticate("alice", PASSWORD)
    assert (user.username, user.role) == ("alice", Role.CONTRIBUTOR)
    with pytest.raises(PermissionDeniedError, match=r"^wrong username or password$"):
        instance.authenticate("alice", PASSWORD + "x")
    with pytest.raises(PermissionDeniedError, match=r"^wrong username or password$"):
        instance.authenticate("nobody", PASSWORD)
    with pytest.raises(PermissionDeniedError, match=r"^wrong username or password$"):
        instance.authenticate("station", PASSWORD)


def test_a_deleted_user_can_change_nothing(opened: Callable[..., LocalInstance]) -> None:
    admin = opened()
    admin.create_user("alice", PASSWORD, Role.ADMINISTRATOR)
    admin.create_user("bob", PASSWORD, Role.CONTRIBUTOR)
    bob = opened(actor="bob")
    admin.delete_user("bob")
    with pytest.raises(PermissionDeniedError, match="user 'bob' no longer exists on this instance"):
        bob.create_batch("late")
    assert admin.list_batches().total == 0


# --- lazy unlock ---------------------------------------------------------------------------------


def test_listing_needs_no_secret(signing_copy: Path, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("no_keyring")
    with LocalInstance.open(signing_copy) as instance:
        assert instance.list_batches().total == 0
        assert instance.list_signing_keys().items[0].name == "rsa"
        assert instance.get_task("task").signing_key == "rsa"
        assert len(instance.certificates()) == 3
        assert instance.instance_params().port == 6000
        hsm = instance.dashboard_summary().health[0]
        assert "OS keyring" in hsm.detail
        instance.create_batch("still-writable")
        with pytest.raises(SecretUnavailableError, match="no OS keyring is available"):
            instance.task_images("task")
        with pytest.raises(SecretUnavailableError, match="no OS keyring is available"):
            instance.create_signing_key("new", KeyType.ECDSA_P256)
        assert [k.name for k in instance.list_signing_keys().items] == ["rsa"]


def test_signing_with_the_keyring_after_reopen(signing_copy: Path) -> None:
    with LocalInstance.open(signing_copy) as instance:
        images = instance.task_images("task")
    assert len(images.images) == 3
    entry = LocalInstance.open(signing_copy)
    try:
        assert entry.list_activity().items[0].action == "task.sign-images"
    finally:
        entry.close()


def test_no_keyring_and_no_passphrase_creates_nothing(db_path: Path, no_keyring: None) -> None:
    with pytest.raises(SecretUnavailableError, match="no OS keyring backend is available"):
        LocalInstance.open(db_path)
    prompt = Prompt(PASSPHRASE)
    with LocalInstance.open(db_path, passphrase_prompt=prompt) as instance:
        assert instance.list_activity().total == 1
    assert len(prompt.asked) == 1 and prompt.asked[0][1] is True


def test_passphrase_mode_round_trip(db_path: Path, no_keyring: None) -> None:
    create = Prompt(PASSPHRASE)
    with LocalInstance.open(db_path, passphrase_prompt=create) as instance:
        instance.create_signing_key("rsa", KeyType.RSA_3072)
        instance.create_task("task", ChipType.ESP32, BootloaderKind.RELEASE, IefKind.NON_DEBUG, "rsa")
        assert "passphrase (unlocked)" in instance.dashboard_summary().health[0].detail
    assert len(create.asked) == 1  # created and used in one session: asked once

    with LocalInstance.open(db_path) as locked:
        assert "passphrase (locked until a key is needed)" in locked.dashboard_summary().health[0].detail
        with pytest.raises(SecretUnavailableError, match="keeps its private keys under a passphrase"):
            locked.task_images("task")

    wrong = Prompt("not the passphrase")
    with LocalInstance.open(db_path, passphrase_prompt=wrong) as instance:
        with pytest.raises(WrongPassphraseError, match="that is not the passphrase"):
            instance.task_images("task")
        wrong.answer = PASSPHRASE  # a failed unlock is not remembered: asking again works
        assert len(instance.task_images("task").images) == 3

    later = Prompt(PASSPHRASE)
    with LocalInstance.open(db_path, passphrase_prompt=later) as instance:
        instance.list_batches()
        instance.dashboard_summary()
        assert later.asked == []  # opening and listing never ask
        instance.task_images("task")
        instance.create_signing_key("ec", KeyType.ECDSA_P256)
        assert len(later.asked) == 1
        assert later.asked[0][1] is False
