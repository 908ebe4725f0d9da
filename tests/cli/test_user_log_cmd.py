from __future__ import annotations

import json
import secrets
import sqlite3
from pathlib import Path

from tests.cli.conftest import Cli


def test_user_create_reads_password_from_stdin_and_never_stores_it(cli: Cli, data_dir: Path) -> None:
    password = secrets.token_urlsafe(12)
    result = cli(
        "user", "create", "alice", "--role", "administrator", "--password-stdin", stdin=password + "\n"
    )
    assert result.code == 0, result.err
    assert cli("login", "--user", "alice", "--password-stdin", stdin=password + "\n").code == 0
    users = json.loads(cli("user", "list", "--json").out)
    assert ("alice", "administrator") in [(u["username"], u["role"]) for u in users]
    assert password not in cli("log", "--json").out
    db = sqlite3.connect(data_dir / "instance" / "local.sqlite3")
    for (table,) in db.execute("select name from sqlite_master where type='table'"):
        for row in db.execute(f"select * from {table}"):  # noqa: S608 - table names come from sqlite_master
            assert password not in repr(row)


def test_username_rules_and_short_password(cli: Cli) -> None:
    admin = ("--role", "administrator", "--password-stdin")
    bad = cli("user", "create", "al ice", *admin, stdin="longenough\n")
    assert bad.code == 2 and "letters, digits" in bad.err
    short = cli("user", "create", "bob", *admin, stdin="short\n")
    assert short.code == 2 and "at least" in short.err
    empty = cli("user", "create", "bob", *admin, stdin="\n")
    assert empty.code == 2 and "cannot be empty" in empty.err
    common = cli("user", "create", "bob", *admin, stdin="Password123\n")
    assert common.code == 2 and "most common" in common.err and "Password123" not in common.err
    own_name = cli("user", "create", "bob-the-admin", *admin, stdin="Bob-The-Admin\n")
    assert own_name.code == 2 and "cannot be the user name" in own_name.err


def test_contributor_cannot_create_users(cli: Cli) -> None:
    cli("user", "create", "alice", "--role", "administrator", "--password-stdin", stdin="alice-password\n")
    cli("login", "--user", "alice", "--password-stdin", stdin="alice-password\n")
    cli("user", "create", "carol", "--role", "contributor", "--password-stdin", stdin="carol-password\n")
    assert cli("login", "--user", "carol", "--password-stdin", stdin="carol-password\n").code == 0
    denied = cli("user", "create", "dave", "--role", "contributor", "--password-stdin", stdin="x" * 12)
    assert denied.code == 2
    assert "'carol' is a contributor" in denied.err


def test_log_records_changes_and_searches(cli: Cli) -> None:
    cli("batch", "create", "findme-batch")
    cli("batch", "create", "other")
    entries = json.loads(cli("log", "--search", "findme", "--json").out)
    assert entries and all("findme" in json.dumps(e) for e in entries)
    everything = json.loads(cli("log", "--json").out)
    assert len(everything) > len(entries)
    assert everything[0]["at"] >= everything[-1]["at"]  # newest first


def test_instance_status(cli: Cli) -> None:
    cli("batch", "create", "b")
    status = json.loads(cli("instance", "status", "--json").out)
    assert status["instance"]["kind"] == "local"
    assert {h["name"] for h in status["summary"]["health"]} >= {"HSM", "Database"}
    text = cli("instance", "status").out
    assert "Devices: 0" in text


def test_instance_params_validation(cli: Cli) -> None:
    params = json.loads(cli("instance", "params", "--json").out)
    assert params["port"] == 6000 and "BEGIN CERTIFICATE" in params["root_ca_pem"]
    bad = cli("instance", "params", "--port", "70000")
    assert bad.code == 2 and "65535" in bad.err
