"""`ql-station outbox`: list, send, and a person's decisions on refused DeviceIDs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from app.provisioning.device_journal import JournalState
from app.provisioning.records import RecordsDB
from app.system.paths import DataDir
from tests.cli.conftest import Cli


def _device(tag: str, i: int = 0) -> str:
    return hashlib.sha256(f"{tag}-{i}".encode()).hexdigest()


def _queue(data_dir: Path, batch: str, device_ids: list[str]) -> list[str]:
    DataDir(data_dir).ensure()
    with RecordsDB(DataDir(data_dir).records_db) as records:
        for device_id in device_ids:
            entry = records.journal.receive(device_id, batch=batch, move=False, port="sim://1")
            records.journal.settle(entry.id, JournalState.QUEUED, "the network was down")
    return device_ids


def test_an_empty_outbox_says_so(cli: Cli) -> None:
    result = cli("outbox")
    assert result.code == 0
    assert "The outbox is empty" in result.out


def test_queued_ids_are_listed_then_sent_once(cli: Cli, data_dir: Path) -> None:
    assert cli("batch", "create", "line").code == 0
    queued = _queue(data_dir, "line", [_device("cli", i) for i in range(3)])
    listed = json.loads(cli("outbox", "--json").out)
    assert listed["queued"] == 3 and listed["needs_attention"] == 0
    assert [e["device_id"] for e in listed["entries"]] == queued
    assert {e["reason"] for e in listed["entries"]} == {"the network was down"}

    sent = cli("outbox", "send", "--json")  # not sent earlier: `outbox` itself does not reach the instance
    assert sent.code == 0, sent.err
    assert json.loads(sent.out)["sent"] == 3
    again = cli("outbox", "send")
    assert again.code == 0 and "0 sent" in again.out
    shown = json.loads(cli("batch", "show", "line", "--json").out)
    assert sorted(d["device_id"] for d in shown["devices"]) == sorted(queued)


def test_a_refused_id_needs_attention_until_a_person_decides(cli: Cli, data_dir: Path) -> None:
    for name in ("line", "field"):
        assert cli("batch", "create", name).code == 0
    device = _device("mixed")
    assert cli("batch", "add", "field", "--device", device).code == 0
    _queue(data_dir, "line", [device])
    cli("outbox", "send")

    listing = cli("outbox")
    assert "Needs attention (refused by the instance): 1" in listing.out
    assert "already belongs to batch 'field'" in listing.out
    entry = json.loads(cli("outbox", "--json").out)["entries"][0]["entry"]

    refused = cli("outbox", "discard", str(entry), "--reason", "")
    assert refused.code == 2 and "say why" in refused.err
    moved = cli("outbox", "move", str(entry))
    assert moved.code == 0, moved.err
    assert "queued for batch 'line'" in moved.out
    assert cli("outbox", "send").code == 0
    assert json.loads(cli("outbox", "--json").out)["entries"] == []
    twice = cli("outbox", "move", str(entry))
    assert twice.code == 2 and "does not need attention" in twice.err


def test_a_discard_is_logged_on_the_instance_with_its_reason(cli: Cli, data_dir: Path) -> None:
    for name in ("line", "field"):
        assert cli("batch", "create", name).code == 0
    device = _device("scrapped")
    assert cli("batch", "add", "field", "--device", device).code == 0
    _queue(data_dir, "line", [device])
    cli("outbox", "send")
    entry = json.loads(cli("outbox", "--json").out)["entries"][0]["entry"]
    done = cli("outbox", "discard", str(entry), "--reason", "board scrapped")
    assert done.code == 0, done.err
    log = cli("log", "--search", "push-discarded")
    assert device[:12] in log.out and "board scrapped" in log.out
    assert json.loads(cli("outbox", "--json").out)["needs_attention"] == 0


def test_any_command_that_reaches_the_instance_delivers_the_outbox_first(cli: Cli, data_dir: Path) -> None:
    assert cli("batch", "create", "line").code == 0
    queued = _queue(data_dir, "line", [_device("first", i) for i in range(2)])
    listed = cli("batch", "list")
    assert listed.code == 0
    assert "outbox: 2 DeviceID(s) sent, 0 refused, 0 still queued" in listed.err
    shown = json.loads(cli("batch", "show", "line", "--json").out)
    assert sorted(d["device_id"] for d in shown["devices"]) == sorted(queued)
