"""`ql-station self-check` as a person or a script runs it: a real subprocess, its JSON and exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app.domain.chips import ChipType

ROOT = Path(__file__).resolve().parents[2]


def self_check(data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(data_dir), "self-check", *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


def test_json_lists_every_check_and_exit_0_when_nothing_is_missing(tmp_path: Path) -> None:
    result = self_check(tmp_path / "station", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    by_name = {check["name"]: check for check in report["checks"]}
    for chip in ChipType:
        assert by_name[f"{chip.display_name} support"]["status"] == "ok"
    assert by_name["Qt platform"]["status"] == "ok"
    assert "libqoffscreen" in by_name["Qt platform"]["detail"]
    assert by_name["data folder"]["status"] == "ok"
    assert {"program", "keyring", "CA bundle", "serial ports"} <= set(by_name)
    assert all(check["status"] in ("ok", "warn", "fail") for check in report["checks"])


def test_a_data_folder_that_cannot_be_written_exits_1_and_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    result = self_check(blocker / "station", "--json")
    assert result.returncode == 1
    failed = [check for check in json.loads(result.stdout)["checks"] if check["status"] == "fail"]
    assert [check["name"] for check in failed] == ["data folder"]
    text = self_check(blocker / "station")
    assert text.returncode == 1
    assert "FAIL  data folder" in text.stdout
    assert "Missing for a run: data folder." in text.stdout
    assert "Traceback" not in text.stderr
