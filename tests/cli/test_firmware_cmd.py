"""`ql-station firmware ...` and `batch set-firmware` on a real data folder (real SQLite, real signing)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from intelhex import IntelHex

from app.domain.chips import ChipType
from app.domain.kinds import IefKind
from app.sim.images import build_sim_ief
from tests.cli.conftest import Cli


def _app_file(
    folder: Path, chip: ChipType = ChipType.ESP32, version: str = "2.1.0", name: str = "app.bin"
) -> Path:
    path = folder / name
    path.write_bytes(build_sim_ief(chip, IefKind.NON_DEBUG, version=version))
    return path


def _hex_file(folder: Path, data: bytes) -> Path:
    hexfile = IntelHex()
    hexfile.frombytes(data, offset=0x10000)
    text = io.StringIO()
    hexfile.write_hex_file(text)
    path = folder / "app.hex"
    path.write_text(text.getvalue())
    return path


@pytest.fixture
def keyed(cli: Cli) -> Cli:
    assert cli("key", "create", "fw-key", "--type", "ecdsa-p256").code == 0
    return cli


def test_upload_list_show_assign_delete(keyed: Cli, tmp_path: Path) -> None:
    cli = keyed
    up = cli(
        "firmware", "upload", str(_app_file(tmp_path)), "--name", "app-2.1.0", "--version", "2.1.0",
        "--device-type", "esp32", "--attribute", "hw=rev2", "--attribute", "region=eu", "--key", "fw-key",
    )  # fmt: skip
    assert up.code == 0, up.err
    assert (
        "uploaded firmware 'app-2.1.0' version 2.1.0 (esp32)" in up.out
        and "signed with key 'fw-key'" in up.out
    )

    listed = json.loads(cli("firmware", "list", "--json").out)
    assert [
        (f["name"], f["version"], f["device_type"], f["attributes"], f["devices_running"]) for f in listed
    ] == [("app-2.1.0", "2.1.0", "esp32", [["hw", "rev2"], ["region", "eu"]], 0)]
    table = cli("firmware", "list").out
    assert "app-2.1.0" in table and "hw=rev2, region=eu" in table
    shown = cli("firmware", "show", "app-2.1.0")
    assert shown.code == 0 and "Devices running it" in shown.out and "fw-key (digest " in shown.out
    assert json.loads(cli("firmware", "show", "app-2.1.0", "--json").out)["sha256"] == listed[0]["sha256"]

    assert cli("batch", "create", "line", "--filter", "region=eu", "--filter", "region=us").code == 0
    assigned = cli("batch", "set-firmware", "line", "app-2.1.0")
    assert assigned.code == 0 and "now updates its devices to firmware 'app-2.1.0'" in assigned.out
    batch_text = cli("batch", "show", "line").out
    assert "app-2.1.0" in batch_text and "region=eu OR region=us" in batch_text

    refused = cli("firmware", "delete", "app-2.1.0")
    assert refused.code != 0 and "batch 'line' update their devices to it" in refused.err
    assert "no firmware now" in cli("batch", "set-firmware", "line", "").out
    deleted = cli("firmware", "delete", "app-2.1.0")
    assert deleted.code == 0 and "deleted firmware 'app-2.1.0'" in deleted.out
    assert json.loads(cli("firmware", "list", "--json").out) == []


def test_intel_hex_upload_keeps_the_same_bytes(keyed: Cli, tmp_path: Path) -> None:
    data = build_sim_ief(ChipType.ESP32, IefKind.NON_DEBUG, version="3.0.0")
    hexed = keyed(
        "firmware", "upload", str(_hex_file(tmp_path, data)), "--name", "hexed", "--version", "3.0.0",
        "--device-type", "esp32", "--key", "fw-key",
    )  # fmt: skip
    assert hexed.code == 0, hexed.err
    plain = keyed(
        "firmware", "upload", str(_app_file(tmp_path, version="3.0.0")), "--name", "plain",
        "--version", "3.0.0", "--device-type", "esp32", "--key", "fw-key",
    )  # fmt: skip
    assert plain.code == 0, plain.err
    listed = {f["name"]: f for f in json.loads(keyed("firmware", "list", "--json").out)}
    assert listed["hexed"]["size"] == listed["plain"]["size"]  # same image; ECDSA signatures differ


def test_a_build_for_another_chip_is_refused_with_the_reason(keyed: Cli, tmp_path: Path) -> None:
    result = keyed(
        "firmware", "upload", str(_app_file(tmp_path, ChipType.ESP32C3)), "--name", "c3", "--version", "1.0",
        "--device-type", "esp32", "--key", "fw-key",
    )  # fmt: skip
    assert result.code != 0
    assert "wrong chip: this firmware is built for ESP32-C3" in result.err
    assert json.loads(keyed("firmware", "list", "--json").out) == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--attribute", "hw"], "must be written KEY=VALUE"),
        (["--key", "missing"], "no signing key named 'missing'"),
        (["--device-type", "esp8266"], "esp8266"),
    ],
)
def test_bad_upload_arguments(keyed: Cli, tmp_path: Path, extra: list[str], message: str) -> None:
    base = {"--key": "fw-key", "--device-type": "esp32"}
    args = ["firmware", "upload", str(_app_file(tmp_path)), "--name", "a", "--version", "1.0"]
    for option, value in base.items():
        if option not in extra:
            args += [option, value]
    result = keyed(*args, *extra)
    assert result.code != 0 and message in result.err


def test_a_firmware_that_fails_the_batch_filters_is_not_assigned(keyed: Cli, tmp_path: Path) -> None:
    keyed(
        "firmware", "upload", str(_app_file(tmp_path)), "--name", "rev1", "--version", "1.0",
        "--device-type", "esp32", "--attribute", "hw=rev1", "--key", "fw-key",
    )  # fmt: skip
    keyed("batch", "create", "rev2-line", "--filter", "hw=rev2")
    result = keyed("batch", "set-firmware", "rev2-line", "rev1")
    assert result.code != 0
    assert "does not pass the attribute filters of batch 'rev2-line', hw=rev2" in result.err
    missing = keyed("batch", "set-firmware", "rev2-line", "nope")
    assert missing.code != 0 and "no firmware named 'nope'" in missing.err
