"""The HTTP API over real TLS: sign-in, tokens, roles, idempotent pushes, size limits, OpenAPI."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from pathlib import Path

import pytest
import requests

from app.domain.errors import ConflictError, DatabaseBusyError, PermissionDeniedError, ValidationError
from app.domain.kinds import Role
from app.domain.records import PageRequest
from app.instance.remote.routes import IDEMPOTENCY_HEADER, routes, token_routes
from app.instance.wire import NotSignedInError, RequestTooLargeError, TooManySignInsError
from app.server.openapi_file import DEFAULT_PATH, render
from app.server.sign_in_limits import SignInLimits
from tests.server.conftest import PASSWORD, ServeFactory, Serving
from tests.support.held_lock import another_writer


def _ids(count: int, tag: str = "id") -> list[str]:
    return [hashlib.sha256(f"{tag}-{n}".encode()).hexdigest() for n in range(count)]


def _get(serving: Serving, path: str, token: str | None = None) -> requests.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return requests.get(serving.url + path, headers=headers, verify=str(serving.ca_file), timeout=10)


def test_no_token_is_401_with_a_sentence(serving: Serving) -> None:
    answer = _get(serving, "/v1/batches")
    assert answer.status_code == 401
    assert answer.json()["error"] == {
        "type": "NotSignedInError",
        "message": "this request carries no sign-in token; sign in first (POST /v1/session)",
    }
    assert _get(serving, "/v1/batches", token="qls_made-up").status_code == 401
    with pytest.raises(NotSignedInError, match="no sign-in token"):
        serving.client(None).list_batches()


def test_a_contributor_gets_403_on_user_management(serving: Serving) -> None:
    serving.add_user("alice", Role.ADMINISTRATOR)
    serving.add_user("bob", Role.CONTRIBUTOR)
    bob = serving.sign_in("bob")
    with pytest.raises(PermissionDeniedError, match="'bob' is a contributor") as caught:
        bob.create_user("eve", PASSWORD, Role.ADMINISTRATOR)
    assert type(caught.value) is PermissionDeniedError
    bob.create_batch("by-bob")  # everything else is allowed
    alice = serving.sign_in("alice")
    alice.create_user("eve", PASSWORD, Role.CONTRIBUTOR)
    assert [e.actor for e in alice.list_activity(PageRequest(search="by-bob")).items] == ["bob"]


def test_a_signed_out_token_is_401(serving: Serving) -> None:
    serving.add_user("alice", Role.ADMINISTRATOR)
    alice = serving.sign_in("alice")
    token = alice.token
    assert token is not None and _get(serving, "/v1/info", token).status_code == 200
    alice.sign_out()
    assert _get(serving, "/v1/info", token).status_code == 401
    with pytest.raises(NotSignedInError):
        serving.client(token).info()


def test_a_deleted_user_cannot_act_with_an_old_token(serving: Serving) -> None:
    serving.add_user("alice", Role.ADMINISTRATOR)
    serving.add_user("bob", Role.CONTRIBUTOR)
    token = serving.sign_in("bob").token
    serving.sign_in("alice").delete_user("bob")
    with pytest.raises(PermissionDeniedError, match="'bob' no longer exists"):
        serving.client(token).create_batch("after")


def test_failed_sign_ins_are_logged_and_limited(serve: ServeFactory) -> None:
    now = [1000.0]
    serving = serve(limits=SignInLimits(limit=3, window_s=60, clock=lambda: now[0]))
    serving.add_user("alice", Role.ADMINISTRATOR)
    for _ in range(3):
        with pytest.raises(NotSignedInError, match=r"^wrong username or password$"):
            serving.sign_in("alice", "not the password")
    with pytest.raises(
        TooManySignInsError, match=r"too many failed sign-ins for user 'alice'.*try again in 60 s"
    ):
        serving.sign_in("alice")  # even the right password waits
    failures = serving.admin().list_activity(PageRequest(search="sign-in-failed")).items
    assert len(failures) == 3
    assert (failures[0].target, failures[0].details) == ("'alice'", "from 127.0.0.1")
    now[0] += 61
    assert serving.sign_in("alice").info().actor == "alice"


def test_the_password_is_in_no_response_and_no_log(
    serving: Serving, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "Zebra-Stapler-9-Orbit"
    caplog.set_level(logging.DEBUG)
    admin = serving.admin()
    admin.create_user("carol", secret, Role.ADMINISTRATOR)
    raw = requests.post(
        serving.url + "/v1/session",
        json={"username": "carol", "password": secret},
        verify=str(serving.ca_file),
        timeout=10,
    )
    wrong = requests.post(
        serving.url + "/v1/session",
        json={"username": "carol", "password": secret + "x"},
        verify=str(serving.ca_file),
        timeout=10,
    )
    token = raw.json()["token"]
    listed = _get(serving, "/v1/users", token)
    activity = _get(serving, "/v1/activity?limit=1000", token)
    for answer in (raw, wrong, listed, activity):
        assert secret not in answer.text
    assert secret not in caplog.text
    assert token not in caplog.text


def test_an_idempotent_push_runs_once(serving: Serving) -> None:
    admin = serving.admin()
    admin.create_batch("line")
    ids = _ids(5)
    first = admin.add_devices("line", ids, idempotency_key="push-1")
    again = admin.add_devices("line", ids, idempotency_key="push-1")
    assert first == again
    assert (first.added, first.already_present) == (5, 0)
    assert admin.get_batch("line").counts.total == 5
    assert admin.list_activity(PageRequest(search="batch.add-devices")).total == 1
    with pytest.raises(ConflictError, match="'push-1' was already used for a different request"):
        admin.add_devices("line", ids[:2], idempotency_key="push-1")
    fresh = admin.add_devices("line", ids)  # a new key is a new request: all already present
    assert (fresh.added, fresh.already_present) == (0, 5)

    admin.create_batch("field")
    assert admin.move_devices("field", ids[:2], idempotency_key="move-1") == 2
    admin.set_device_state(ids[:2], admin.list_devices("field").items[0].state)
    assert admin.move_devices("line", ids[:2], idempotency_key="move-2") == 2
    assert admin.move_devices("field", ids[:2], idempotency_key="move-1") == 2  # replayed, not moved
    assert admin.get_batch("field").counts.total == 0


def test_a_replay_is_marked_and_the_key_is_per_user(serving: Serving) -> None:
    admin = serving.admin()
    admin.create_batch("line")
    token = serving.served.issue_token(None)
    headers = {"Authorization": f"Bearer {token}", IDEMPOTENCY_HEADER: "k"}
    body = {"batch": "line", "device_ids": _ids(2)}
    answers = [
        requests.post(
            serving.url + "/v1/batch/devices",
            json=body,
            headers=headers,
            verify=str(serving.ca_file),
            timeout=10,
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    assert "Idempotent-Replayed" not in answers[0].headers
    assert answers[1].headers["Idempotent-Replayed"] == "true"


def test_too_many_ids_in_one_request_is_413_and_the_client_sends_parts(serve: ServeFactory) -> None:
    serving = serve(max_ids=4)
    admin = serving.admin()
    admin.create_batch("line")
    with pytest.raises(RequestTooLargeError, match="carries 5 device IDs; the server takes at most 4"):
        admin.add_devices("line", _ids(5))
    assert admin.get_batch("line").counts.total == 0
    chunked = type(admin)(admin._connection, max_ids_per_request=4)
    ids = _ids(10)
    with pytest.raises(ValidationError, match="device #10: a DeviceID"):
        chunked.add_devices("line", [*ids[:9], "nope"])
    assert admin.get_batch("line").counts.total == 0  # a bad ID still changes nothing
    result = chunked.add_devices("line", [*ids, ids[0]], idempotency_key="big")
    assert (result.added, result.duplicates_in_input, result.duplicate_samples) == (10, 1, (ids[0],))
    assert [d.device_id for d in admin.list_devices("line").items] == ids
    assert chunked.add_devices("line", [*ids, ids[0]], idempotency_key="big") == result


def test_reads_answer_while_another_program_writes_and_a_blocked_write_says_so(
    serve: ServeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QL_STATION_BUSY_TIMEOUT_MS", "300")
    serving = serve()
    admin = serving.admin()
    admin.create_batch("before")
    with another_writer(serving.served.db_path):
        started = time.monotonic()
        assert [b.name for b in admin.list_batches().items] == ["before"]
        admin.dashboard_summary()
        assert time.monotonic() - started < 0.3
        with pytest.raises(DatabaseBusyError, match="instance database"):
            admin.create_batch("during")
        raw = requests.post(
            serving.url + "/v1/batches",
            json={"name": "raw"},
            headers={"Authorization": f"Bearer {serving.served.issue_token(None)}"},
            verify=str(serving.ca_file),
            timeout=10,
        )
        assert (raw.status_code, raw.headers["Retry-After"]) == (503, "2")
        assert raw.json()["error"]["type"] == "DatabaseBusyError"
    admin.create_batch("after")


def test_a_write_queued_behind_the_same_users_long_write_is_503_busy(
    serve: ServeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QL_STATION_BUSY_TIMEOUT_MS", "100")
    serving = serve()
    admin = type(serving.admin())(serving.admin()._connection, max_ids_per_request=200_000)  # one request
    admin.create_batch("big")
    errors: list[Exception] = []
    done = threading.Event()

    def import_all() -> None:
        admin.add_devices("big", _ids(200_000, "long"))
        done.set()

    worker = threading.Thread(target=import_all)
    worker.start()
    second = serving.admin()
    tries = 0
    while not done.is_set():
        tries += 1
        try:
            second.create_batch(f"during-{tries}")
        except DatabaseBusyError as exc:
            errors.append(exc)
            break
    worker.join()
    assert errors, "the import was too short to overlap a second write"
    assert "the instance database is busy with another write" in str(errors[0])


def test_reads_do_not_queue_behind_the_servers_own_long_write(serving: Serving) -> None:
    admin = serving.admin()
    admin.create_batch("big")
    ids = _ids(150_000, "bulk")
    done = threading.Event()
    took: list[float] = []

    def import_all() -> None:
        start = time.monotonic()
        admin.add_devices("big", ids)
        took.append(time.monotonic() - start)
        done.set()

    reader = serving.admin()
    reader.list_batches()
    worker = threading.Thread(target=import_all)
    worker.start()
    waits = []
    while not done.is_set():
        start = time.monotonic()
        reader.dashboard_summary()
        waits.append(time.monotonic() - start)
    worker.join()
    assert len(waits) >= 3, f"the import took {took[0]:.2f} s; too short to read during it"
    assert max(waits) < took[0] / 2, (max(waits), took[0])
    assert reader.get_batch("big").counts.total == 150_000


def test_the_served_openapi_document_is_the_committed_one(serving: Serving) -> None:
    served = _get(serving, "/openapi.json")
    assert served.status_code == 200
    assert json.dumps(served.json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n" == render()
    committed = Path(DEFAULT_PATH).read_text(encoding="utf-8")
    assert committed == render(), "docs/openapi.json is stale: run `python -m app.server.openapi_file`"
    paths = served.json()["paths"]
    operations = len([op for ops in paths.values() for op in ops])
    assert operations == len(routes()) + 2 + len(token_routes()) + 1  # protocol, session, tokens, root CA


def test_failed_sign_ins_from_one_address_are_limited_whatever_the_names(serve: ServeFactory) -> None:
    now = [1000.0]
    serving = serve(limits=SignInLimits(limit=3, window_s=60, clock=lambda: now[0]))
    serving.add_user("alice", Role.ADMINISTRATOR)
    for name in ("root", "admin", "operator"):  # a scan of user names, each tried once
        with pytest.raises(NotSignedInError, match=r"^wrong username or password$"):
            serving.sign_in(name, "guess")
    with pytest.raises(
        TooManySignInsError, match=r"too many failed sign-ins for 127\.0\.0\.1: 3 in the last 60 s"
    ):
        serving.sign_in("alice")  # a right password from that address waits too
    failures = serving.admin().list_activity(PageRequest(search="sign-in-failed")).items
    assert sorted(e.target for e in failures) == ["'admin'", "'operator'", "'root'"]
    assert {(e.actor, e.details) for e in failures} == {("-", "from 127.0.0.1")}
    now[0] += 61
    assert serving.sign_in("alice").info().actor == "alice"
    signed_in = serving.admin().list_activity(PageRequest(search="session.sign-in")).items
    assert (signed_in[0].actor, signed_in[0].action) == ("alice", "session.sign-in")


def test_unknown_paths_and_verbs_and_bad_base64_answer_in_the_error_shape(serving: Serving) -> None:
    token = serving.served.issue_token(None)
    auth = {"Authorization": f"Bearer {token}"}
    nowhere = _get(serving, "/v1/nowhere", token)
    assert nowhere.status_code == 404
    assert nowhere.json()["error"] == {
        "type": "NotFoundError",
        "message": "there is no '/v1/nowhere' on this server; see /openapi.json",
    }
    traced = requests.request("TRACE", serving.url + "/v1/session", verify=str(serving.ca_file), timeout=10)
    assert traced.status_code == 405
    assert traced.json()["error"]["message"].startswith("TRACE is not allowed on '/v1/session'; it takes")
    image = {"name": "x", "device_type": "esp32", "kind": "ief", "variant": "", "data": "\u0080"}
    bad = requests.post(
        serving.url + "/v1/images", json=image, headers=auth, verify=str(serving.ca_file), timeout=10
    )
    assert (bad.status_code, bad.json()["error"]["message"]) == (422, "data is not valid base64")


@pytest.mark.parametrize(
    ("given", "kind"), [(1.5, "float"), ({"id": "x"}, "dict"), (None, "NoneType"), (True, "bool")]
)
def test_a_list_of_ids_given_as_something_else_is_422_not_500(
    serving: Serving, given: object, kind: str
) -> None:
    """Found by the OpenAPI fuzz run: device_ids as a number reached the instance and failed there."""
    token = serving.served.issue_token(None)
    answer = requests.post(
        serving.url + "/v1/device-certificates",
        json={"device_ids": given},
        headers={"Authorization": f"Bearer {token}"},
        verify=str(serving.ca_file),
        timeout=10,
    )
    assert (answer.status_code, answer.json()["error"]["message"]) == (
        422,
        f"device IDs must be given as a list of IDs, not as {kind}",
    )


def test_a_strangers_body_is_not_read(serving: Serving) -> None:
    answer = requests.post(
        serving.url + "/v1/batch/devices",
        data=b"{not json",
        headers={"Authorization": "Bearer qls_guess", "Content-Type": "application/json"},
        verify=str(serving.ca_file),
        timeout=10,
    )
    assert answer.status_code == 401  # not 422: the body of an unknown caller is never parsed
