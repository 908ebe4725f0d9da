"""`ql-station policy ...` and `batch set-policy` against a real data folder."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Cli


def test_create_list_show_edit_delete(cli: Cli) -> None:
    created = cli(
        "policy", "create", "month", "--cert-days", "30", "--no-auto-renew", "--connection", "iot-hub",
        "--jwt-minutes", "15",
    )  # fmt: skip
    assert created.code == 0, created.err
    assert created.out == (
        "created policy 'month': certificates 30 days, no auto-renew, JWT 15 min, connection iot-hub\n"
    )

    listed = json.loads(cli("policy", "list", "--json").out)
    assert [(p["name"], p["certificate_days"], p["auto_renew"], p["batches"]) for p in listed] == [
        ("default", 365, True, 0),
        ("month", 30, False, 0),
    ]
    table = cli("policy", "list").out.splitlines()
    assert table[0].split() == ["Name", "Connection", "Cert", "days", "Auto-renew", "JWT", "min", "Batches"]
    assert table[2].split() == ["month", "iot-hub", "30", "no", "15", "0"]

    shown = json.loads(cli("policy", "show", "month", "--json").out)
    assert (shown["connection"], shown["jwt_minutes"]) == ("iot-hub", 15)
    text = cli("policy", "show", "month").out
    assert "Certificate lifetime  30 days" in text and "JWT lifetime          15 minutes" in text

    edited = cli("policy", "edit", "month", "--cert-days", "90", "--auto-renew")
    assert edited.code == 0, edited.err
    assert "certificates 90 days, auto-renew, JWT 15 min, connection iot-hub" in edited.out

    deleted = cli("policy", "delete", "month")
    assert (deleted.code, deleted.out) == (0, "deleted policy 'month'\n")
    assert [p["name"] for p in json.loads(cli("policy", "list", "--json").out)] == ["default"]


def test_a_new_policy_without_options_takes_the_defaults(cli: Cli) -> None:
    result = cli("policy", "create", "plain")
    assert result.out == (
        "created policy 'plain': certificates 365 days, auto-renew, JWT 60 min, connection none\n"
    )


def test_batches_pick_existing_policies_and_switch(cli: Cli) -> None:
    refused = cli("batch", "create", "line-1", "--policy", "factory")
    assert refused.code == 2
    assert "there is no policy named 'factory'; create it first (ql-station policy create factory)" in (
        refused.err
    )
    assert cli("policy", "create", "factory", "--cert-days", "30").code == 0
    assert cli("batch", "create", "line-1", "--policy", "factory").code == 0
    assert cli("batch", "create", "line-2").code == 0

    moved = cli("batch", "set-policy", "line-2", "factory")
    assert (moved.code, moved.out) == (0, "batch 'line-2' now has policy 'factory'\n")
    assert json.loads(cli("policy", "show", "factory", "--json").out)["batches"] == 2

    blocked = cli("policy", "delete", "factory")
    assert blocked.code == 2
    assert "batches 'line-1', 'line-2' use it" in blocked.err
    assert "ql-station batch set-policy BATCH POLICY" in blocked.err


def test_bad_input_gets_a_specific_error(cli: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    connection = cli("policy", "create", "p", "--connection", "mqtt")
    assert connection.code == 2
    assert "--connection must be one of none, iot-hub, database-direct; got 'mqtt'" in connection.err
    days = cli("policy", "create", "p", "--cert-days", "0")
    assert "a device certificate's lifetime must be 1 to 36,500 days; got 0" in days.err
    with pytest.raises(SystemExit) as exited:
        cli("policy", "create", "p", "--cert-days", "thirty")
    assert exited.value.code == 2
    assert "argument --cert-days: invalid int value: 'thirty'" in capsys.readouterr().err
    assert "there is no policy named 'nope'" in cli("policy", "edit", "nope", "--cert-days", "3").err
    assert "'default' policy cannot be deleted" in cli("policy", "delete", "default").err
    assert "there is no batch named 'nope'" in cli("batch", "set-policy", "nope", "default").err
    assert [p["name"] for p in json.loads(cli("policy", "list", "--json").out)] == ["default"]
