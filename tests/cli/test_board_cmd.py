"""`ql-station board ...` against virtual boards: every command, every refusal, and the lab loop.

Real parts throughout: the CLI in-process on a real data folder, the real provisioning engine (worker
processes, local instance, records), esptool and espefuse against virtual boards on loopback. Boards with
burned eFuses are made by writing their state folder's `efuses.json` before they are plugged in.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.cli import main as cli_main
from app.domain.chips import ChipType
from app.ports.reservation import reserve_port
from app.provisioning.job import MASK
from app.sim import partition_table as pt
from app.sim.efuses import EfuseState, decode_virtual
from app.sim.faults import Stage
from app.sim.fleet import SimFleet
from app.system.paths import DataDir
from tests.provisioning.sim_boards import board_device_id


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    return DataDir(tmp_path_factory.mktemp("bench-station")).ensure()


@pytest.fixture
def cli(data_dir: DataDir, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def invoke(*argv: str, stdin: str = "") -> Result:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        out, err = io.StringIO(), io.StringIO()
        code = cli_main.run(["--data-dir", str(data_dir.root), *argv], out=out, err=err)
        return Result(code, out.getvalue(), err.getvalue())

    return invoke


@pytest.fixture(scope="module", autouse=True)
def tasks(data_dir: DataDir) -> None:
    """Keys A and B, a dev task for each, and a release task with key A (ESP32-C3)."""
    base = ["--data-dir", str(data_dir.root)]
    for argv in (
        ["key", "create", "key-a", "--type", "rsa-3072"],
        ["key", "create", "key-b", "--type", "rsa-3072"],
        ["task", "create", "dev-a", "--device-type", "esp32c3", "--bootloader", "dev", "--key", "key-a"],
        ["task", "create", "dev-b", "--device-type", "esp32c3", "--bootloader", "dev", "--key", "key-b"],
        ["task", "create", "rel-a", "--device-type", "esp32c3", "--bootloader", "release", "--key", "key-a"],
        ["batch", "create", "bench"],
    ):
        out, err = io.StringIO(), io.StringIO()
        assert (
            cli_main.run(
                [*base, *argv, *(["--ief", "debug", "--enrol-wait", "0"] if "task" in argv else [])],
                out=out,
                err=err,
            )
            == 0
        ), err.getvalue()


@pytest.fixture(autouse=True)
def _no_leaks(nothing_left_behind: None) -> None:
    """No worker process or thread outlives a test."""


@pytest.fixture
def boards(tmp_path: Path) -> Iterator[list[SimFleet]]:
    fleets: list[SimFleet] = []
    yield fleets
    for fleet in fleets:
        fleet.close()


def _board(boards: list[SimFleet], root: Path, efuses: EfuseState | None = None) -> SimFleet:
    if efuses is not None:
        folder = root / "sim-1"
        folder.mkdir(parents=True, mode=0o700)
        (folder / "efuses.json").write_text(json.dumps(efuses.to_json()), encoding="utf-8")
        (folder / "efuses.json").chmod(0o600)
    fleet = SimFleet(root, count=1, pacing=False)
    boards.append(fleet)
    return fleet


def _provision(cli, fleet: SimFleet, task: str) -> Result:  # type: ignore[no-untyped-def]
    ap = fleet.access_point
    argv = ["provision", "--task", task, "--batch", "bench", "--ssid", ap.ssid, "--password-stdin"]
    if task.startswith("rel"):
        argv += ["--confirm-release", "bench"]
    return cli(*argv, "--port", fleet.urls[0], stdin=ap.password + "\n")  # type: ignore[no-any-return]


def _info(cli, url: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    result = cli("board", "info", "--port", url, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)  # type: ignore[no-any-return]


def _refused(result: Result, *words: str) -> None:
    assert result.code == 2, result.out + result.err
    assert result.err.startswith("error: "), result.err
    assert "Traceback" not in result.err
    for word in words:
        assert word in result.err


# --------------------------------------------------------------------------- the lab loop


def test_lab_loop_key_a_reset_virtual_efuses_key_b(cli, boards: list[SimFleet], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = _board(boards, tmp_path / "lab")
    board, url = fleet.boards[0], fleet.urls[0]
    first = _provision(cli, fleet, "dev-a")
    assert first.code == 0, first.out + first.err
    info = _info(cli, url)
    assert info["build"] == "dev" and info["mac"] == board.mac
    digest_a = info["virtual_efuses"]["key_digests"]
    assert len(digest_a) == 1 and info["security"]["secure_boot_enabled"] is False
    assert [r["task"] for r in info["history"]] == ["dev-a"]

    other_key = _provision(cli, fleet, "dev-b")
    assert other_key.code != 0, "key B must not boot on a board whose virtual eFuses hold key A"

    table = cli("board", "efuses", "--port", url, "--virtual")
    assert table.code == 0, table.err
    marked = [line.split()[1] for line in table.out.splitlines() if line.startswith("*")]
    assert {"SECURE_BOOT_EN", "KEY_PURPOSE_0", "BLOCK_KEY0"} <= set(marked)

    _refused(cli("board", "reset-vefuses", "--port", url, "--confirm", "02:51:00:00:00:00"), "not the MAC")
    reset = cli("board", "reset-vefuses", "--port", url, "--confirm", board.mac.upper())
    assert reset.code == 0, reset.err
    assert "virtual eFuses" in reset.out and "erased" in reset.out
    assert decode_virtual(board.state.flash.read(pt.EFUSE_EM_OFFSET, pt.EFUSE_EM_SIZE)).blank

    second = _provision(cli, fleet, "dev-b")
    assert second.code == 0, second.out + second.err
    after = _info(cli, url)
    assert after["virtual_efuses"]["key_digests"] != digest_a
    assert len(after["virtual_efuses"]["key_digests"]) == 1
    assert [r["outcome"] for r in after["history"]].count("pass") == 2
    assert board.errors == []


def test_reprovision_resets_virtual_efuses_and_provisions_in_one_command(  # type: ignore[no-untyped-def]
    cli, boards: list[SimFleet], tmp_path: Path
) -> None:
    fleet = _board(boards, tmp_path / "loop")
    board, url, ap = fleet.boards[0], fleet.urls[0], fleet.access_point
    assert _provision(cli, fleet, "dev-a").code == 0
    digest_a = _info(cli, url)["virtual_efuses"]["key_digests"]
    erased_before = board.state.flash.sectors_erased

    def reprovision(task: str, confirm: str) -> Result:
        argv = [
            "--task",
            task,
            "--batch",
            "bench",
            "--ssid",
            ap.ssid,
            "--password-stdin",
            "--confirm",
            confirm,
        ]
        return cli("board", "reprovision", "--port", url, *argv, stdin=ap.password + "\n")  # type: ignore[no-any-return]

    _refused(reprovision("rel-a", board.mac), "dev (veFuse) task", "release")
    _refused(reprovision("dev-b", "02:51:00:00:00:01"), "not the MAC")
    assert board.state.flash.sectors_erased == erased_before, "a refusal changes nothing"
    result = reprovision("dev-b", board.mac)
    assert result.code == 0, result.out + result.err
    assert "virtual eFuses" in result.out and "1 of 1 board(s) passed" in result.out
    assert "sectors written, the rest already held the right bytes" in result.out
    assert Stage.STUB in board.stages, "the engine flashes through esptool's stub, checked byte for byte"
    assert ap.password not in result.out + result.err
    after = _info(cli, url)
    assert after["virtual_efuses"]["key_digests"] not in ([], digest_a)
    # the same IEF was already in flash: far fewer sectors erased than a first flash (~50 here)
    assert board.state.flash.sectors_erased - erased_before < 20
    assert board.errors == []


# --------------------------------------------------------------------------- looking


def test_info_and_efuses_of_a_blank_board(cli, boards: list[SimFleet], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = _board(boards, tmp_path / "blank")
    url = fleet.urls[0]
    text = cli("board", "info", "--port", url)
    assert text.code == 0, text.err
    assert fleet.boards[0].mac in text.out and "ESP32-C3" in text.out and "40 MHz" in text.out
    assert "empty: no partition table" in text.out
    info = _info(cli, url)
    assert info["chip"] == "esp32c3" and info["flash_size"] == "4MB" and info["history"] == []
    listed = json.loads(cli("board", "efuses", "--port", url, "--json").out)
    by_name = {row["name"]: row for row in listed["efuses"]}
    assert by_name["MAC"]["real"] == f"{fleet.boards[0].mac} (OK)"
    assert by_name["SECURE_BOOT_EN"]["real"] == "False"
    assert all(row["virtual"] is None for row in listed["efuses"])
    _refused(
        cli("board", "reset-vefuses", "--port", url, "--confirm", fleet.boards[0].mac), "no veFuse build"
    )


def test_read_flash_writes_the_region_and_checks_its_arguments(  # type: ignore[no-untyped-def]
    cli, boards: list[SimFleet], tmp_path: Path
) -> None:
    fleet = _board(boards, tmp_path / "read")
    board, url = fleet.boards[0], fleet.urls[0]
    board.state.flash.write(0x9000, b"lab backup" * 100)
    target = tmp_path / "backup.bin"
    result = cli("board", "read-flash", "--port", url, "0x9000", "4K", str(target))
    assert result.code == 0, result.err
    assert target.read_bytes() == board.state.flash.read(0x9000, 4096)
    _refused(cli("board", "read-flash", "--port", url, "zero", "16", str(target)), "not a number")
    _refused(cli("board", "read-flash", "--port", url, "0x3ff000", "0x2000", str(target)), "past the end")
    _refused(
        cli("board", "read-flash", "--port", url, "0", "16", str(tmp_path / "no" / "f")), "does not exist"
    )


def test_monitor_shows_the_console_with_the_secret_masked(  # type: ignore[no-untyped-def]
    cli, boards: list[SimFleet], tmp_path: Path
) -> None:
    fleet = _board(boards, tmp_path / "mon")
    assert _provision(cli, fleet, "dev-a").code == 0
    device_id = board_device_id(fleet.boards[0])
    assert device_id is not None
    secret = tmp_path / "secret.txt"
    secret.write_text(device_id + "\n", encoding="utf-8")  # not secret, but printed at every boot
    result = cli("board", "monitor", "--port", fleet.urls[0], "--seconds", "3", "--mask-file", str(secret))
    assert result.code == 0, result.err
    assert "ESP-ROM:esp32c3" in result.out and "Loaded app from partition" in result.out
    assert f"deviceID:{MASK}" in result.out and device_id not in result.out
    assert fleet.access_point.password not in result.out
    assert "monitor stopped" in result.err


def test_monitor_keys_reset_into_download_mode_and_save_masked(  # type: ignore[no-untyped-def]
    cli, boards: list[SimFleet], tmp_path: Path
) -> None:
    fleet = _board(boards, tmp_path / "keys")
    assert _provision(cli, fleet, "dev-a").code == 0
    secret = tmp_path / "secret.txt"
    secret.write_text("ESP-ROM\n", encoding="utf-8")  # printed in every ROM banner, so it must be masked
    saved = tmp_path / "console.txt"
    url = fleet.urls[0]
    argv = ["--seconds", "3", "--reset", "none", "--save", str(saved), "--mask-file", str(secret)]
    result = cli("board", "monitor", "--port", url, *argv, stdin="d")
    assert result.code == 0, result.err
    assert "reset into download mode" in result.err or "download mode" in result.err
    assert "waiting for download" in result.out and "ESP-ROM" not in result.out
    assert saved.read_text(encoding="utf-8") == result.out
    assert f"{MASK}:esp32c3" in saved.read_text(encoding="utf-8")
    quick = cli("board", "monitor", "--port", url, "--reset", "none", stdin="q")  # no --seconds: q ends it
    assert quick.code == 0 and "monitor stopped" in quick.err
    _refused(cli("board", "monitor", "--port", url, "--save", str(tmp_path)), "is a folder")


# --------------------------------------------------------------------------- changing


def test_erase_settings_forgets_wifi_and_the_enrolment_key(
    cli, boards: list[SimFleet], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    fleet = _board(boards, tmp_path / "settings")
    board = fleet.boards[0]
    assert _provision(cli, fleet, "dev-a").code == 0
    assert board_device_id(board) is not None
    result = cli("board", "erase-settings", "--port", fleet.urls[0], "--confirm", board.mac)
    assert result.code == 0, result.err
    assert "NEW DeviceID" in result.out and "WiFi" in result.out
    assert board_device_id(board) is None
    assert board.state.flash.read(pt.NVS_OFFSET, pt.NVS_SIZE) == b"\xff" * pt.NVS_SIZE


def test_erase_flash_of_a_dev_board(cli, boards: list[SimFleet], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = _board(boards, tmp_path / "erase")
    board = fleet.boards[0]
    board.state.flash.write(0x20000, b"\x00" * 64)
    result = cli("board", "erase-flash", "--port", fleet.urls[0], "--confirm", board.mac)
    assert result.code == 0, result.err
    assert board.state.flash.read(0x20000, 64) == b"\xff" * 64


# --------------------------------------------------------------------------- refusals


def test_release_board_refuses_reset_and_erase(cli, boards: list[SimFleet], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = _board(boards, tmp_path / "release")
    board, url = fleet.boards[0], fleet.urls[0]
    result = _provision(cli, fleet, "rel-a")
    assert result.code == 0, result.out + result.err
    info = _info(cli, url)
    assert info["build"] == "release" and info["security"]["secure_boot_enabled"] is True
    assert len(info["security"]["key_digests"]) == 1
    _refused(cli("board", "reset-vefuses", "--port", url, "--confirm", board.mac), "real Secure Boot eFuses")
    _refused(
        cli("board", "erase-flash", "--port", url, "--confirm", board.mac), "real Secure Boot is enabled"
    )
    assert board_device_id(board) is not None  # nothing was erased
    assert cli("board", "read-flash", "--port", url, "0", "4K", str(tmp_path / "bl.bin")).code == 0
    ap = fleet.access_point
    loop = cli(
        "board", "reprovision", "--port", url, "--task", "dev-a", "--batch", "bench", "--ssid", ap.ssid,
        "--password-stdin", "--confirm", board.mac, stdin=ap.password + "\n",
    )  # fmt: skip
    _refused(loop, "real Secure Boot eFuses")


def test_secure_download_mode_board(cli, boards: list[SimFleet], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    locked = EfuseState(secure_download=True).with_secure_boot(ChipType.ESP32C3, bytes(range(32)))
    fleet = _board(boards, tmp_path / "sdm", locked)
    url, mac = fleet.urls[0], fleet.boards[0].mac
    info = _info(cli, url)
    assert info["security"]["secure_download_mode"] is True and info["mac"] is None
    assert info["build"] == "unknown"
    _refused(cli("board", "efuses", "--port", url), "secure download mode")
    _refused(cli("board", "read-flash", "--port", url, "0", "16", str(tmp_path / "x.bin")), "secure download")
    _refused(cli("board", "reset-vefuses", "--port", url, "--confirm", mac), "secure download mode")
    _refused(cli("board", "erase-settings", "--port", url, "--confirm", mac), "secure download mode")
    _refused(cli("board", "erase-flash", "--port", url, "--confirm", mac), "secure download mode")


def test_flash_encryption_refuses_reads_and_erase(cli, boards: list[SimFleet], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = _board(boards, tmp_path / "crypt", EfuseState(flash_crypt_cnt=1))
    url, mac = fleet.urls[0], fleet.boards[0].mac
    info = _info(cli, url)
    assert info["security"]["flash_encryption_enabled"] is True and "ciphertext" in info["build_reason"]
    _refused(cli("board", "read-flash", "--port", url, "0", "16", str(tmp_path / "x.bin")), "ciphertext")
    _refused(cli("board", "erase-flash", "--port", url, "--confirm", mac), "flash encryption is on")
    _refused(cli("board", "erase-settings", "--port", url, "--confirm", mac), "ciphertext")


def test_a_reserved_port_is_not_touched(
    cli, boards: list[SimFleet], data_dir: DataDir, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    fleet = _board(boards, tmp_path / "busy")
    board, url = fleet.boards[0], fleet.urls[0]
    with reserve_port(data_dir.root, url, "provision"):
        _refused(cli("board", "erase-flash", "--port", url, "--confirm", board.mac), "in use by provision")
        _refused(cli("board", "monitor", "--port", url, "--seconds", "1"), "in use by provision")
    assert board.stages == [] or "sync" not in [s.value for s in board.stages]


def test_a_vanished_port_is_an_error_not_a_traceback(cli) -> None:  # type: ignore[no-untyped-def]
    _refused(cli("board", "info", "--port", "rfc2217://127.0.0.1:9"), "cannot open")
