from __future__ import annotations

import json
import secrets
from pathlib import Path

from tests.cli.conftest import Cli


def ids(n: int) -> list[str]:
    return [secrets.token_hex(32) for _ in range(n)]


def test_create_add_list_show(cli: Cli, tmp_path: Path) -> None:
    assert cli("policy", "create", "factory").code == 0
    assert cli("batch", "create", "line-1", "--policy", "factory").code == 0
    devices = ids(3)
    file = tmp_path / "devices.json"
    file.write_text(json.dumps({"devices": devices[:2]}))
    added = cli("batch", "add", "line-1", "--file", str(file))
    assert added.code == 0, added.err
    assert "added 2 device(s)" in added.out
    one = cli("batch", "add", "line-1", "--device", devices[2].upper())
    assert one.code == 0 and "added 1" in one.out

    listing = json.loads(cli("batch", "list", "--json").out)
    assert [(b["name"], b["policy"], b["counts"]["registered"]) for b in listing] == [
        ("line-1", "factory", 3)
    ]

    shown = json.loads(cli("batch", "show", "line-1", "--json").out)
    assert [d["device_id"] for d in shown["devices"]] == devices  # file order, then the one added, lowercase
    assert {d["state"] for d in shown["devices"]} == {"registered"}

    text = cli("batch", "show", "line-1", "--limit", "1").out
    assert devices[0] in text and devices[1] not in text and "2 more" in text


def test_duplicates_are_reported_not_added_twice(cli: Cli) -> None:
    cli("batch", "create", "a")
    cli("batch", "create", "b")
    first, second = ids(2)
    assert cli("batch", "add", "a", "--device", first).code == 0
    result = json.loads(
        cli("batch", "add", "b", "--device", first, "--device", second, "--device", second, "--json").out
    )
    assert result["added"] == 1
    assert result["duplicates_in_input"] == 1
    assert result["already_present"] == 1
    assert result["present_samples"] == [[first, "a"]]


def test_bad_file_rejected_whole_with_line_and_index(cli: Cli, tmp_path: Path) -> None:
    cli("batch", "create", "line-1")
    good = ids(2)
    file = tmp_path / "bad.json"
    file.write_text(f'{{"devices": [\n  "{good[0]}",\n  "{good[1]}",\n  "not-hex"\n]}}\n')
    result = cli("batch", "add", "line-1", "--file", str(file))
    assert result.code == 2
    assert "nothing was imported" in result.err
    assert "line 4, device #3" in result.err
    assert "Traceback" not in result.err
    shown = json.loads(cli("batch", "show", "line-1", "--json").out)
    assert shown["devices"] == []


def test_malformed_json_names_the_line(cli: Cli, tmp_path: Path) -> None:
    cli("batch", "create", "line-1")
    file = tmp_path / "broken.json"
    file.write_text(f'{{"devices": [\n "{ids(1)[0]}"\n,,]}}')
    result = cli("batch", "add", "line-1", "--file", str(file))
    assert result.code == 2
    assert "not valid JSON" in result.err and "line 3" in result.err


def test_bad_device_id_on_the_command_line(cli: Cli) -> None:
    cli("batch", "create", "line-1")
    result = cli("batch", "add", "line-1", "--device", "abc")
    assert result.code == 2
    assert "64 hexadecimal characters" in result.err


def test_unknown_batch_and_duplicate_name(cli: Cli) -> None:
    missing = cli("batch", "show", "nope")
    assert missing.code == 2 and "nope" in missing.err
    assert cli("batch", "create", "x").code == 0
    again = cli("batch", "create", "x")
    assert again.code == 2 and "already" in again.err


def test_unreadable_file(cli: Cli, tmp_path: Path) -> None:
    cli("batch", "create", "line-1")
    result = cli("batch", "add", "line-1", "--file", str(tmp_path / "missing.json"))
    assert result.code == 2 and "cannot read" in result.err


def test_bad_filter(cli: Cli) -> None:
    result = cli("batch", "create", "x", "--filter", "novalue")
    assert result.code == 2 and "KEY=VALUE" in result.err


def test_export_as_json_reloads_and_as_csv_has_states(cli: Cli, tmp_path: Path) -> None:
    cli("batch", "create", "line-1")
    devices = ids(3)
    for device in devices:
        cli("batch", "add", "line-1", "--device", device)
    exported = tmp_path / "line-1.json"
    result = cli("batch", "export", "line-1", str(exported))
    assert result.code == 0, result.err
    assert "wrote 3 DeviceID(s)" in result.out
    assert json.loads(exported.read_text()) == {"devices": devices}
    cli("batch", "create", "copy")
    reloaded = cli("batch", "add", "copy", "--file", str(exported))  # a batch file: it reads back
    assert reloaded.code == 0 and "skipped 3 already in the instance" in reloaded.out
    table = tmp_path / "line-1.csv"
    assert cli("batch", "export", "line-1", str(table)).code == 0
    rows = table.read_text().splitlines()
    assert rows[0] == "device_id,state,added_at" and rows[1].startswith(f"{devices[0]},registered,")
    assert len(rows) == 4
    empty = tmp_path / "empty.json"
    cli("batch", "create", "empty")
    assert cli("batch", "export", "empty", str(empty)).code == 0
    assert json.loads(empty.read_text()) == {"devices": []}
    missing = cli("batch", "export", "nope", str(tmp_path / "nope.json"))
    assert missing.code != 0 and "there is no batch named 'nope'" in missing.err
    assert not (tmp_path / "nope.json").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_delete_asks_for_the_name_and_is_refused_while_devices_are_enrolled(cli: Cli) -> None:
    cli("batch", "create", "line-1")
    cli("batch", "add", "line-1", "--device", ids(1)[0])
    wrong = cli("batch", "delete", "line-1", "--confirm", "line-2")
    assert wrong.code == 2 and "give --confirm 'line-1'" in wrong.err
    assert cli("batch", "show", "line-1").code == 0
    deleted = cli("batch", "delete", "line-1", "--confirm", "line-1")
    assert deleted.code == 0, deleted.err
    assert "deleted batch 'line-1' and its 1 device(s)" in deleted.out
    assert json.loads(cli("batch", "list", "--json").out) == []
