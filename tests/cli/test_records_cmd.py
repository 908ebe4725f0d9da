"""`ql-station records` filters and `records export FILE`, against a real records file."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.provisioning.events import Outcome
from app.provisioning.records import ProvisioningRecord, PushState, RecordsDB
from app.provisioning.step_log import StepLogEntry
from app.system.paths import DataDir
from tests.cli.conftest import Cli

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def filled(data_dir: Path) -> Path:
    """Six records: alternate pass/fail, two batches, two operators, ten minutes apart."""
    with RecordsDB(DataDir(data_dir).ensure().records_db) as db:
        for n in range(6):
            failed = n % 2 == 1
            db.add(
                ProvisioningRecord(
                    at=T0 + timedelta(minutes=10 * n),
                    operator="alice" if n < 3 else "bob",
                    station="bench",
                    port=f"/dev/ttyUSB{n}",
                    mode="provision",
                    batch="line-1" if n < 4 else "line-2",
                    outcome=Outcome.FAIL if failed else Outcome.PASS,
                    duration_s=9.5,
                    push_state=PushState.NONE if failed else PushState.PUSHED,
                    task="c3-dev",
                    mac=f"aa:bb:cc:00:00:{n:02x}",
                    error="WiFi authentication failed" if failed else "",
                    step="ief" if failed else "done",
                    step_log=(StepLogEntry(T0, "ief", "failed" if failed else "passed"),),
                )
            )
    return data_dir


def _listed(cli: Cli, *argv: str) -> list[dict[str, object]]:
    result = cli("records", "--json", *argv)
    assert result.code == 0, result.err
    records: list[dict[str, object]] = json.loads(result.out)["records"]
    return records


def test_filters(cli: Cli, filled: Path) -> None:
    assert len(_listed(cli)) == 6
    failed = _listed(cli, "--outcome", "fail")
    assert [r["port"] for r in failed] == ["/dev/ttyUSB5", "/dev/ttyUSB3", "/dev/ttyUSB1"]
    assert failed[0]["step"] == "ief" and failed[0]["step_log"][0]["status"] == "failed"  # type: ignore[index]
    assert len(_listed(cli, "--batch", "line-2", "--operator", "bob")) == 2
    assert len(_listed(cli, "--task", "c3-dev", "--search", "ttyUSB2")) == 1
    window = ("--since", "2025-03-01T08:10+00:00", "--until", "2025-03-01T08:30+00:00")
    assert [r["port"] for r in _listed(cli, *window)] == ["/dev/ttyUSB2", "/dev/ttyUSB1"]
    assert len(_listed(cli, "--until", "2025-02-28")) == 0
    table = cli("records", "--outcome", "fail")
    assert table.code == 0 and "ief" in table.out and "/dev/ttyUSB0" not in table.out


def test_export_csv_and_json(cli: Cli, filled: Path, tmp_path: Path) -> None:
    out = tmp_path / "failed.csv"
    result = cli("records", "export", str(out), "--outcome", "fail")
    assert result.code == 0 and "wrote 3 record(s)" in result.out and "(CSV)" in result.out
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["outcome"] for r in rows] == ["fail"] * 3 and rows[0]["step"] == "ief"
    as_json = tmp_path / "all.data"
    assert cli("records", "export", str(as_json), "--format", "json").code == 0
    assert len(json.loads(as_json.read_text(encoding="utf-8"))) == 6
    by_name = tmp_path / "line2.json"
    assert cli("records", "export", str(by_name), "--batch", "line-2").code == 0
    assert {r["batch"] for r in json.loads(by_name.read_text(encoding="utf-8"))} == {"line-2"}
    old_flag = tmp_path / "old.csv"
    assert cli("records", "--csv", str(old_flag), "--outcome", "pass").code == 0
    assert len(list(csv.DictReader(old_flag.open(encoding="utf-8")))) == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("export",), "needs the FILE"),
        (("out.csv",), "did you mean `records export out.csv`"),
        (("--format", "json"), "--format is for `records export FILE`"),
        (("export", "x.csv", "--json"), "--json and --csv are for listing"),
        (("--outcome", "green"), "the outcome must be one of pass, fail, cancelled"),
        (("--since", "last tuesday"), "--since must be a date"),
        (("--since", "2025-03-02", "--until", "2025-03-01"), "the date range is empty"),
        (("export", "/nonexistent/folder/x.csv"), "cannot write"),
    ],
)
def test_bad_arguments_say_what_to_do(cli: Cli, filled: Path, argv: tuple[str, ...], message: str) -> None:
    result = cli("records", *argv)
    assert result.code != 0 and message in result.err
