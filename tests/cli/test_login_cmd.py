"""`login`, `logout`, `--user` and `instance connect` in-process, on the built-in and a served instance.

The served instance is a real HTTPS server on loopback (tests/server/conftest.py); the keyring is the
test file keyring, so what the station keeps can be read back and searched for the password.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from app.domain.kinds import Role
from app.instance.station_access import StationAccess
from app.instance.wire import NotSignedInError
from app.system.keyring_store import KeyringStore
from app.system.paths import DataDir
from tests.cli.conftest import Cli
from tests.server.conftest import PASSWORD, Serving
from tests.support.file_keyring import FileKeyring

ALICE = "alice-long-password"
BOB = "bob-long-password"


def _users(cli: Cli) -> None:
    """alice (administrator, the first user) and bob (contributor); no one signed in afterwards."""
    assert (
        cli("user", "create", "alice", "--role", "administrator", "--password-stdin", stdin=ALICE).code == 0
    )
    assert cli("login", "--user", "alice", "--password-stdin", stdin=ALICE).code == 0
    assert cli("user", "create", "bob", "--role", "contributor", "--password-stdin", stdin=BOB).code == 0
    assert cli("logout").code == 0


def _kept_token(data_dir: Path) -> str:
    kept = StationAccess(DataDir(data_dir), KeyringStore()).keeper.get()
    assert kept is not None
    return kept.token


# --- the built-in instance ---------------------------------------------------------------------------
def test_the_first_user_is_an_administrator_and_then_user_management_needs_one_signed_in(cli: Cli) -> None:
    first = cli("user", "create", "bob", "--role", "contributor", "--password-stdin", stdin=BOB)
    assert first.code == 2 and "its first user must be an administrator" in first.err
    created = cli("user", "create", "alice", "--role", "administrator", "--password-stdin", stdin=ALICE)
    assert created.code == 0 and "ql-station login --user alice --password-stdin" in created.out
    again = cli("user", "create", "eve", "--role", "administrator", "--password-stdin", stdin="eve-long-pw-1")
    assert again.code == 2 and "no one is signed in to the built-in instance" in again.err
    assert "ql-station login --user NAME --password-stdin" in again.err
    assert cli("batch", "list").code == 2  # every command now needs the signed-in user


def test_login_checks_the_password_and_the_signed_in_user_acts(cli: Cli, data_dir: Path) -> None:
    _users(cli)
    wrong = cli("login", "--user", "alice", "--password-stdin", stdin="not-her-password")
    assert wrong.code == 2 and wrong.err == "error: wrong username or password\n"
    signed = cli("login", "--user", "bob", "--password-stdin", stdin=BOB)
    assert signed.code == 0 and "signed in to the built-in instance as bob (contributor)" in signed.out
    assert cli("batch", "create", "by-bob").code == 0
    status = json.loads(cli("instance", "status", "--json").out)["instance"]
    assert (status["actor"], status["role"]) == ("bob", "contributor")
    log = json.loads(cli("log", "--json").out)
    assert ("bob", "batch.create", "by-bob") in [(e["actor"], e["action"], e["target"]) for e in log]
    assert ("-", "session.sign-in-failed") in [(e["actor"], e["action"]) for e in log]
    assert ("bob", "session.sign-in") in [(e["actor"], e["action"]) for e in log]


def test_naming_another_user_is_not_enough(cli: Cli) -> None:
    _users(cli)
    assert cli("login", "--user", "bob", "--password-stdin", stdin=BOB).code == 0
    as_alice = cli("--user", "alice", "user", "list")
    assert as_alice.code == 2
    assert "'alice' is not signed in on this station" in as_alice.err
    assert "ql-station login --user alice --password-stdin" in as_alice.err
    assert cli("--user", "bob", "batch", "list").code == 0  # naming the signed-in user is fine


def test_a_contributor_gets_permission_denied_for_user_management(cli: Cli) -> None:
    _users(cli)
    cli("login", "--user", "bob", "--password-stdin", stdin=BOB)
    for argv in (
        ("user", "create", "eve", "--role", "administrator", "--password-stdin"),
        ("user", "set-role", "bob", "administrator"),
        ("user", "delete", "alice"),
    ):
        denied = cli(*argv, stdin="eve-long-password")
        assert denied.code == 2 and "'bob' is a contributor" in denied.err, argv


def test_logout_revokes_the_local_token(cli: Cli, data_dir: Path) -> None:
    _users(cli)
    cli("login", "--user", "alice", "--password-stdin", stdin=ALICE)
    token = _kept_token(data_dir)
    assert token.startswith("qll_")
    out = cli("logout")
    assert out.code == 0 and out.out == "signed out alice from the built-in instance\n"
    with pytest.raises(NotSignedInError, match="expired or was signed out"):
        StationAccess(DataDir(data_dir), KeyringStore()).open_with_token(token)
    refused = cli("batch", "list")
    assert refused.code == 2 and "no one is signed in" in refused.err
    assert cli("logout").out == "no one is signed in on this station\n"


@pytest.mark.usefixtures("no_keyring")
def test_without_a_keyring_nothing_is_kept_and_login_says_what_to_do(cli: Cli, tmp_path: Path) -> None:
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("a passphrase long enough\n")
    base = ("--passphrase-file", str(passphrase))
    assert (
        cli(*base, "user", "create", "alice", "--role", "administrator", "--password-stdin", stdin=ALICE).code
        == 0
    )
    refused = cli(*base, "login", "--user", "alice", "--password-stdin", stdin=ALICE)
    assert refused.code == 2
    assert "no OS keyring on this computer can keep a sign-in" in refused.err
    assert "type the password when it asks" in refused.err


# --- a served instance ---------------------------------------------------------------------------
def _connect(cli: Cli, serving: Serving) -> str:
    fingerprint = next(
        c for c in serving.served.station.certificates() if c.role == "root"
    ).fingerprint_sha256
    paired = cli("instance", "connect", serving.url, "--fingerprint", fingerprint)
    assert paired.code == 0, paired.err
    return fingerprint


def test_connect_login_work_and_logout_against_a_served_instance(
    cli: Cli, serving: Serving, data_dir: Path
) -> None:
    serving.add_user("alice", Role.ADMINISTRATOR)
    serving.add_user("bob", Role.CONTRIBUTOR)
    _connect(cli, serving)
    unsigned = cli("batch", "list")
    assert unsigned.code == 2 and f"no one is signed in to {serving.url}" in unsigned.err
    signed = cli("login", "--user", "bob", "--password-stdin", stdin=PASSWORD)
    assert signed.code == 0 and f"signed in to {serving.url} as bob (contributor)" in signed.out
    token = _kept_token(data_dir)
    assert serving.served.tokens.user_of(token) == "bob"
    assert cli("batch", "create", "remote-batch").code == 0
    status = json.loads(cli("instance", "status", "--json").out)["instance"]
    assert (status["kind"], status["location"], status["actor"]) == ("remote", serving.url, "bob")
    assert serving.served.station.get_batch("remote-batch").name == "remote-batch"
    denied = cli("user", "delete", "alice")
    assert denied.code == 2 and "'bob' is a contributor" in denied.err

    out = cli("logout")
    assert out.out == f"signed out bob from {serving.url}\n"
    assert serving.served.tokens.user_of(token) is None  # revoked on the server, not only forgotten here
    assert cli("batch", "list").code == 2
    assert cli("instance", "disconnect").code == 0
    assert json.loads(cli("instance", "status", "--json").out)["instance"]["kind"] == "local"


def test_an_expired_server_token_is_a_clear_error(cli: Cli, serving: Serving, data_dir: Path) -> None:
    serving.add_user("alice", Role.ADMINISTRATOR)
    _connect(cli, serving)
    cli("login", "--user", "alice", "--password-stdin", stdin=PASSWORD)
    with serving.served.tokens._file.write() as conn:  # the server's own clock moving past the expiry
        conn.execute("UPDATE sessions SET expires_ms = 0")
    expired = cli("batch", "list")
    assert expired.code == 2 and "Traceback" not in expired.err
    assert f"no one is signed in to {serving.url} on this station; sign in" in expired.err


def test_connect_refuses_without_a_way_to_trust_and_with_a_wrong_fingerprint(
    cli: Cli, serving: Serving
) -> None:
    bare = cli("instance", "connect", serving.url)  # stdin is not a terminal here
    assert bare.code == 2 and "pairing needs the root CA's fingerprint confirmed" in bare.err
    wrong = cli("instance", "connect", serving.url, "--fingerprint", "AB" * 32)
    assert wrong.code == 2 and "nothing was paired" in wrong.err
    with pytest.raises(SystemExit):  # argparse: one or the other
        cli("instance", "connect", serving.url, "--fingerprint", "AB" * 32, "--ca-file", "x.pem")
    assert json.loads(cli("instance", "status", "--json").out)["instance"]["kind"] == "local"


def test_the_password_is_in_no_output_log_file_or_keyring(
    cli: Cli, serving: Serving, data_dir: Path, file_keyring: FileKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "correct horse battery staple 7"
    serving.served.station.create_user("carol", secret, Role.ADMINISTRATOR)
    caplog.set_level(logging.DEBUG)
    outputs = []
    _connect(cli, serving)
    for argv in (
        ("login", "--user", "carol", "--password-stdin"),
        ("batch", "create", "c"),
        ("log",),
        ("logout",),
    ):
        result = cli(*argv, stdin=secret)
        assert result.code == 0, result.err
        outputs += [result.out, result.err]
    wrong = cli("login", "--user", "carol", "--password-stdin", stdin=secret + "x")
    outputs += [wrong.out, wrong.err]
    assert secret not in "".join(outputs) + caplog.text
    folders = [data_dir, serving.served.db_path.parent]
    for path in [p for folder in folders for p in folder.rglob("*") if p.is_file()] + [file_keyring.path]:
        assert secret.encode() not in path.read_bytes(), path


def test_a_new_login_replaces_and_revokes_the_earlier_one_and_a_failed_one_changes_nothing(
    cli: Cli, data_dir: Path
) -> None:
    _users(cli)
    cli("login", "--user", "bob", "--password-stdin", stdin=BOB)
    bob_token = _kept_token(data_dir)
    failed = cli("login", "--user", "alice", "--password-stdin", stdin="not-her-password")
    assert failed.code == 2 and _kept_token(data_dir) == bob_token  # bob is still signed in
    switched = cli("login", "--user", "alice", "--password-stdin", stdin=ALICE)
    assert switched.out.startswith("signed out bob\nsigned in to the built-in instance as alice")
    with pytest.raises(NotSignedInError):
        StationAccess(DataDir(data_dir), KeyringStore()).open_with_token(bob_token)


def test_a_paired_station_reads_from_its_mirror_while_the_server_is_gone(
    cli: Cli, tmp_path: Path, data_dir: Path
) -> None:
    from app.instance.mirror.instance import MirrorInstance
    from app.server.http_api import create_app
    from app.server.https_server import HttpsServer, Listen, bind, tls_context
    from app.server.served_instance import ServedInstance

    served = ServedInstance(tmp_path / "server" / "instance.sqlite3")
    try:
        served.station.create_user("alice", PASSWORD, Role.ADMINISTRATOR)
        certificate = served.station.issue_server_certificate(["127.0.0.1"])
        server = HttpsServer(
            create_app(served), bind(Listen("127.0.0.1", 0)), tls_context(certificate, tmp_path / "server")
        )
        server.start()
        url = f"https://127.0.0.1:{server.port}"
        root = next(c for c in served.station.certificates() if c.role == "root")
        assert cli("instance", "connect", url, "--fingerprint", root.fingerprint_sha256).code == 0
        assert cli("login", "--user", "alice", "--password-stdin", stdin=PASSWORD).code == 0
        assert cli("batch", "create", "made-online").code == 0
        opened = StationAccess(DataDir(data_dir), KeyringStore()).open_kept()
        assert isinstance(opened, MirrorInstance)  # a paired station works through its mirror
        opened.refresh()  # what the window's background timer does
        opened.close()
        server.stop()

        offline = cli("batch", "list")
        assert offline.code == 0, offline.err
        assert "made-online" in offline.out
        change = cli("batch", "create", "made-offline")
        assert change.code == 2 and "needs the instance, which cannot be reached" in change.err
    finally:
        served.close()
