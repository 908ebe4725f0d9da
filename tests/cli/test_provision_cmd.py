"""`ql-station provision / reenrol / records / ports` end to end on virtual boards (real workers, real
instance, real records file). The WiFi password is made at runtime by the simulator's access point."""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.cli import main as cli_main
from app.sim.fleet import SimFleet
from app.sim.run_context import AccessPoint
from app.system.paths import DataDir
from tests.provisioning.sim_boards import board_device_id, flash_was_written


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    return DataDir(tmp_path_factory.mktemp("cli-station")).ensure()


@pytest.fixture
def cli(data_dir: DataDir, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run `ql-station --data-dir D ...` in-process."""

    def invoke(*argv: str, stdin: str = "") -> Result:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        out, err = io.StringIO(), io.StringIO()
        code = cli_main.run(["--data-dir", str(data_dir.root), *argv], out=out, err=err)
        return Result(code, out.getvalue(), err.getvalue())

    return invoke


@pytest.fixture(scope="module", autouse=True)
def tasks(data_dir: DataDir, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A key and a dev and a release task for ESP32-C3, made through the CLI once per module."""
    out, err = io.StringIO(), io.StringIO()
    base = ["--data-dir", str(data_dir.root)]
    assert cli_main.run([*base, "key", "create", "k", "--type", "rsa-3072"], out=out, err=err) == 0, err
    for name, boot in (("dev", "dev"), ("rel", "release")):
        argv = ["task", "create", name, "--device-type", "esp32c3", "--bootloader", boot]
        argv += ["--ief", "debug", "--key", "k", "--enrol-wait", "0"]  # these runs are not about enrolment
        assert cli_main.run([*base, *argv], out=out, err=err) == 0


@pytest.fixture(autouse=True)
def _no_leaks(nothing_left_behind: None) -> None:
    """No worker process or thread outlives a provisioning test."""


@pytest.fixture
def fleet(data_dir: DataDir, tmp_path: Path) -> Iterator[SimFleet]:
    with SimFleet(tmp_path / "boards", count=4, pacing=False, registry=data_dir.sim_registry) as started:
        yield started


def _batch(cli, name: str) -> str:  # type: ignore[no-untyped-def]
    assert cli("batch", "create", name).code == 0
    return name


def _provision(cli, fleet: SimFleet, batch: str, *extra: str) -> Result:  # type: ignore[no-untyped-def]
    ap = fleet.access_point
    argv = ["provision", "--task", "dev", "--batch", batch, "--ssid", ap.ssid, "--password-stdin", *extra]
    return cli(*argv, stdin=ap.password + "\n")  # type: ignore[no-any-return]


def test_provision_all_four_boards(cli, fleet: SimFleet, data_dir: DataDir, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    batch = _batch(cli, "line-all")
    result = _provision(cli, fleet, batch, "--all")
    assert result.code == 0, result.out + result.err
    assert "4 of 4 board(s) passed" in result.out
    for url in fleet.urls:
        assert f"{url}  ief     ok" in result.out
    shown = json.loads(cli("batch", "show", batch, "--json").out)
    computed = {board_device_id(board) for board in fleet.boards}
    assert {d["device_id"] for d in shown["devices"]} == computed and None not in computed

    listed = json.loads(cli("records", "--json", "--search", batch).out)
    assert listed["total"] == 4
    assert {r["device_id"] for r in listed["records"]} == computed
    assert {r["outcome"] for r in listed["records"]} == {"pass"}
    assert {r["mac"] for r in listed["records"]} == {board.mac for board in fleet.boards}

    password = fleet.access_point.password
    csv_file = tmp_path / "records.csv"
    exported = cli("records", "--csv", str(csv_file), "--search", batch)
    assert exported.code == 0 and "wrote 4 record(s)" in exported.out
    rows = list(csv.DictReader(csv_file.open(encoding="utf-8")))
    assert {row["device_id"] for row in rows} == computed
    everything = result.out + result.err + exported.out + csv_file.read_text(encoding="utf-8")
    assert password not in everything
    for path in data_dir.root.rglob("*.sqlite3*"):
        assert password.encode() not in path.read_bytes(), path


def test_json_output_is_the_event_stream(cli, fleet: SimFleet) -> None:  # type: ignore[no-untyped-def]
    batch = _batch(cli, "line-json")
    result = _provision(cli, fleet, batch, "--port", fleet.urls[0], "--port", fleet.urls[1], "--json")
    assert result.code == 0, result.err
    events = [json.loads(line) for line in result.out.splitlines()]
    assert {"step", "progress", "log", "device_id", "result"} <= {e["type"] for e in events}
    results = [e for e in events if e["type"] == "result"]
    assert sorted(r["port"] for r in results) == sorted(fleet.urls[:2])
    assert all(r["outcome"] == "pass" for r in results)
    assert fleet.access_point.password not in result.out
    assert not flash_was_written(fleet.boards[2])


@pytest.mark.parametrize("typed", [None, "yes", "LINE-REL"])
def test_release_needs_the_batch_name(cli, fleet: SimFleet, typed: str | None) -> None:  # type: ignore[no-untyped-def]
    batch = _batch(cli, f"line-rel-{typed or 'none'}")
    ap = fleet.access_point
    argv = ["provision", "--task", "rel", "--batch", batch, "--ssid", ap.ssid, "--password-stdin", "--all"]
    if typed is not None:
        argv += ["--confirm-release", typed]
    before = json.loads(cli("records", "--json").out)["total"]
    result = cli(*argv, stdin=ap.password + "\n")
    assert result.code == 2
    assert f"confirm by typing exactly: {batch}" in result.err or f"expected exactly {batch!r}" in result.err
    assert not any(flash_was_written(board) for board in fleet.boards)
    assert json.loads(cli("records", "--json").out)["total"] == before


def test_some_boards_failing_gives_exit_status_1(cli, fleet: SimFleet) -> None:  # type: ignore[no-untyped-def]
    batch = _batch(cli, "line-mixed")
    fleet.servers[3].unplug()
    result = _provision(cli, fleet, batch, "--port", fleet.urls[0], "--port", fleet.urls[3])
    assert result.code == 1
    assert "1 of 2 board(s) passed" in result.out
    assert f"{fleet.urls[3]}: detect failed: cannot open" in result.out


def test_reenrol_a_provisioned_board(cli, fleet: SimFleet) -> None:  # type: ignore[no-untyped-def]
    first = _batch(cli, "line-first")
    assert _provision(cli, fleet, first, "--port", fleet.urls[0]).code == 0
    field = _batch(cli, "field")
    ap = fleet.access_point
    argv = ["reenrol", "--port", fleet.urls[0], "--batch", field, "--ssid", ap.ssid, "--password-stdin"]
    argv.append("--no-wait-enrolled")  # not about enrolment
    result = cli(*argv, stdin=ap.password + "\n")
    # The board keeps its DeviceID: re-enrolling it into a new batch moves it there.
    device_id = board_device_id(fleet.boards[0])
    assert result.code == 0, result.out
    assert "ief     ok     answered nothing" in result.out
    assert (
        "joined WiFi with the network it had kept" in result.out and f"{ap.ssid!r} was not sent" in result.out
    )
    assert f"DeviceID {device_id} moved from batch 'line-first' to 'field'" in result.out
    assert "PASS (WARNING)" in result.out, "amber, as its tile: the board kept its old WiFi"
    (record,) = json.loads(cli("records", "--json", "--outcome", "warning", "--batch", field).out)["records"]
    assert record["warning"].startswith("joined the WiFi network it had kept, not the one given")
    in_field = json.loads(cli("batch", "show", field, "--json").out)["devices"]
    in_first = json.loads(cli("batch", "show", first, "--json").out)["devices"]
    assert [d["device_id"] for d in in_field] == [device_id]
    assert in_first == []


def test_reenrol_at_a_new_site_gives_the_board_the_new_wifi(cli, fleet: SimFleet) -> None:  # type: ignore[no-untyped-def]
    first = _batch(cli, "line-moved")
    assert _provision(cli, fleet, first, "--port", fleet.urls[0]).code == 0
    # The board is taken to another site: the network it remembers is not there.
    site = AccessPoint(ssid="site-b", password=secrets.token_urlsafe(12))
    fleet.boards[0].access_point = site
    field = _batch(cli, "field-b")
    argv = ["reenrol", "--port", fleet.urls[0], "--batch", field, "--ssid", site.ssid, "--password-stdin"]
    argv.append("--no-wait-enrolled")  # not about enrolment
    result = cli(*argv, stdin=site.password + "\n")
    assert result.code == 0, result.out
    assert "answered wifi_ssid, wifi_password" in result.out
    assert "joined WiFi 'site-b'" in result.out
    in_field = json.loads(cli("batch", "show", field, "--json").out)["devices"]
    assert [d["device_id"] for d in in_field] == [board_device_id(fleet.boards[0])]
    assert site.password not in result.out + result.err


def test_ports_lists_the_virtual_boards(cli, fleet: SimFleet) -> None:  # type: ignore[no-untyped-def]
    listed = json.loads(cli("ports", "--json").out)
    virtual = {p["url"]: p for p in listed if p["kind"] == "virtual"}
    assert set(virtual) == set(fleet.urls)
    assert {p["mac"] for p in virtual.values()} == {b.mac for b in fleet.boards}
    assert all(p["chip"] == "esp32c3" and p["likely_esp"] for p in virtual.values())
    table = cli("ports").out
    assert all(url in table for url in fleet.urls)


def test_all_with_no_boards(cli) -> None:  # type: ignore[no-untyped-def]
    batch = _batch(cli, "line-empty")
    result = cli("provision", "--task", "dev", "--batch", batch, "--ssid", "n", "--password-stdin", "--all")
    assert result.code == 2 and "no boards found" in result.err


def test_records_arguments(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("records", "--limit", "0")
    assert result.code == 2 and "--limit must be 1 to" in result.err


def test_provision_in_a_real_subprocess(data_dir: DataDir, fleet: SimFleet, cli) -> None:  # type: ignore[no-untyped-def]
    batch = _batch(cli, "line-subprocess")
    ap = fleet.access_point
    argv = ["provision", "--task", "dev", "--batch", batch, "--ssid", ap.ssid, "--password-stdin"]
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "--data-dir",
            str(data_dir.root),
            *argv,
            "--port",
            fleet.urls[0],
            "--json",
        ],
        input=(ap.password + "\n").encode(),
        capture_output=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert process.returncode == 0, process.stderr.decode()
    results = [json.loads(line) for line in process.stdout.decode().splitlines()]
    assert results[-1]["type"] == "result" and results[-1]["device_id"] == board_device_id(fleet.boards[0])
    assert ap.password.encode() not in process.stdout + process.stderr


def test_records_flush_sends_queued_device_ids(cli, data_dir: DataDir) -> None:  # type: ignore[no-untyped-def]
    from app.domain.device_id import DeviceID
    from app.provisioning.device_journal import JournalState
    from app.provisioning.records import RecordsDB

    batch = _batch(cli, "line-outbox")
    device_id = "ab" * 32
    with RecordsDB(data_dir.records_db) as records:
        entry = records.journal.receive(DeviceID(device_id), batch=batch, move=False)
        records.journal.settle(entry.id, JournalState.QUEUED, "connection refused")
    listed = cli("records")
    assert "1 DeviceID(s) wait in the outbox" in listed.out
    flushed = cli("records", "--flush")
    assert flushed.code == 0 and "outbox: 1 sent, 0 refused, 0 still queued" in flushed.err
    shown = json.loads(cli("batch", "show", batch, "--json").out)
    assert [d["device_id"] for d in shown["devices"]] == [device_id]


def _provision_process(
    data_dir: DataDir, url: str, batch: str, ap: AccessPoint, **env: str
) -> subprocess.Popen[bytes]:
    """`ql-station provision --json` in a process of its own, the password already on its stdin."""
    argv = ["provision", "--task", "dev", "--batch", batch, "--ssid", ap.ssid, "--password-stdin"]
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "--data-dir", str(data_dir.root), *argv, "--port", url, "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **env},
    )
    assert process.stdin is not None
    process.stdin.write((ap.password + "\n").encode())
    process.stdin.close()
    return process


def _finish(process: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    assert process.stdout is not None and process.stderr is not None
    stdout, stderr = process.stdout.read(), process.stderr.read()
    process.wait(timeout=180)
    process.stdout.close()
    process.stderr.close()
    return stdout, stderr


def _wait_until(condition, seconds: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_a_second_provision_on_a_busy_port_is_refused_naming_the_holder(  # type: ignore[no-untyped-def]
    cli, data_dir: DataDir, tmp_path: Path
) -> None:
    """Seen: two provision processes on one port; one flashed the board between the other's steps."""
    from app.ports.reservation import port_holder

    batch = _batch(cli, "line-busy-port")
    with SimFleet(tmp_path / "slow", count=1, pacing=True, registry=data_dir.sim_registry) as fleet:
        url, ap = fleet.urls[0], fleet.access_point
        first = _provision_process(data_dir, url, batch, ap)
        _wait_until(lambda: port_holder(data_dir.root, url) is not None)
        second = _provision(cli, fleet, batch, "--port", url)
        stdout, stderr = _finish(first)
    assert second.code == 2, second.out + second.err
    assert f"port {url} is in use by ql-station provision (pid {first.pid}" in second.err
    assert first.returncode == 0, stderr.decode()  # the first run was not disturbed
    assert json.loads(stdout.decode().splitlines()[-1])["outcome"] == "pass"


def test_a_station_killed_while_the_instance_is_locked_loses_no_id(  # type: ignore[no-untyped-def]
    cli, data_dir: DataDir, fleet: SimFleet
) -> None:
    """Seen: kill -9 while the instance could not be reached; acknowledged IDs in no batch, outbox, record."""
    from app.provisioning.device_journal import JournalState
    from app.provisioning.records import RecordsDB

    batch = _batch(cli, "line-killed")
    url = fleet.urls[0]
    process = _provision_process(data_dir, url, batch, fleet.access_point, QL_STATION_BUSY_TIMEOUT_MS="60000")
    assert process.stdout is not None
    lock = None
    for raw in process.stdout:
        event = json.loads(raw)
        if lock is None and event["type"] == "step" and event["step"] == "boot":
            lock = sqlite3.connect(data_dir.local_instance_db, isolation_level=None)
            lock.execute("BEGIN IMMEDIATE")  # another program writes to the instance from now on
        if event["type"] == "log" and event["text"].endswith("-> OK"):  # the board was told OK
            break
    assert lock is not None
    process.kill()  # kill -9, while the push waits for the instance
    _finish(process)
    lock.execute("ROLLBACK")
    lock.close()
    device_id = board_device_id(fleet.boards[0])
    with RecordsDB(data_dir.records_db) as records:
        owed = records.journal.owed()
        assert [(e.device_id, e.batch, e.state) for e in owed] == [(device_id, batch, JournalState.JOURNALED)]
    flushed = cli("records", "--flush")
    assert "1 DeviceID(s) left unpushed by a stopped station" in flushed.err
    assert "outbox: 1 sent, 0 refused, 0 still queued" in flushed.err
    shown = json.loads(cli("batch", "show", batch, "--json").out)
    assert [d["device_id"] for d in shown["devices"]] == [device_id]


def test_a_wifi_password_that_is_not_utf8_is_refused_without_echo(data_dir: DataDir) -> None:
    secret = b"caf\xe9-not-utf8"
    argv = ["provision", "--task", "dev", "--batch", "b", "--ssid", "s", "--password-stdin", "--port", "x"]
    process = subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(data_dir.root), *argv],
        input=secret + b"\n",
        capture_output=True,
        timeout=60,
        env=dict(os.environ),
    )
    assert process.returncode == 2
    assert b"the WiFi password on stdin is not valid UTF-8 text" in process.stderr
    assert b"Traceback" not in process.stderr and b"caf" not in process.stderr + process.stdout


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the terminal's other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_provision_on_a_terminal_shows_live_progress_and_on_a_pipe_plain_lines(  # type: ignore[no-untyped-def]
    data_dir: DataDir, fleet: SimFleet, cli
) -> None:
    import pty
    import threading

    batch = _batch(cli, "line-live")
    ap = fleet.access_point
    base = [sys.executable, "-m", "app", "--data-dir", str(data_dir.root), "provision", "--task", "dev"]
    argv = [*base, "--batch", batch, "--ssid", ap.ssid, "--password-stdin", "--port", fleet.urls[0]]
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE")}
    env.update(TERM="xterm-256color", COLUMNS="160")
    master, slave = pty.openpty()
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(_read_all(master)))
    reader.start()
    assert process.stdin is not None and process.stderr is not None
    process.stdin.write((ap.password + "\n").encode())
    process.stdin.close()
    stderr = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=180) == 0, stderr.decode()
    reader.join(timeout=10)
    os.close(master)
    shown = got[0].decode("utf-8", "replace")
    assert "\x1b[" in shown  # drawn, not appended
    assert "100%" in shown and "PASS" in shown  # the last frame: flash bar full, outcome
    assert "1 of 1 board(s) passed" in shown
    assert ap.password not in shown

    piped = subprocess.run(
        [*argv[:-1], fleet.urls[1]],
        input=(ap.password + "\n").encode(),
        capture_output=True,
        timeout=180,
        env=env,
    )
    assert piped.returncode == 0, piped.stderr.decode()
    text = piped.stdout.decode()
    assert "\x1b[" not in text and "flash (3/6)" not in text
    assert f"{fleet.urls[1]}  flash   ok" in text and "1 of 1 board(s) passed" in text


def test_each_board_flashes_at_its_bridges_rate_and_falls_back_once(  # type: ignore[no-untyped-def]
    cli, data_dir: DataDir, tmp_path: Path
) -> None:
    """A CP210x board at 921600, a CH340 one at 2 Mbaud, and a CP210x clone that garbles above 460800:
    it fails at 921600 and passes at 460800, saying so; `--baud` overrides the choice."""
    from app.sim.faults import Faults

    cp210x, ch340 = (0x10C4, 0xEA60), (0x1A86, 0x7523)
    with SimFleet(
        tmp_path / "bridges",
        count=3,
        pacing=False,
        registry=data_dir.sim_registry,
        usb_ids=[cp210x, ch340, cp210x],
        faults=[Faults(max_baud=921600), Faults(max_baud=2000000), Faults(max_baud=460800)],
    ) as fleet:
        batch = _batch(cli, "line-rates")
        ports = [arg for url in fleet.urls for arg in ("--port", url)]
        result = _provision(cli, fleet, batch, *ports, "--json")
        assert result.code == 0, result.out[-3000:] + result.err
        events = [json.loads(line) for line in result.out.splitlines()]

        def flash_message(url: str) -> str:
            return next(
                e["message"]
                for e in events
                if e["type"] == "step"
                and e["port"] == url
                and e["step"] == "flash"
                and e["status"] == "passed"
            )

        def logs(url: str) -> list[str]:
            return [e["text"] for e in events if e["type"] == "log" and e["port"] == url]

        assert flash_message(fleet.urls[0]).endswith("at 921600 baud")
        assert any(
            line.startswith("flashing at 921600 baud: Silicon Labs CP210x: Silicon Labs CP2102/9 datasheet")
            for line in logs(fleet.urls[0])
        )
        assert flash_message(fleet.urls[1]).endswith("at 2000000 baud")
        clone = flash_message(fleet.urls[2])
        assert "at 460800 baud (after 921600 baud failed:" in clone
        assert any(
            line.startswith("flashing at 921600 baud failed") and "trying once at 460800" in line
            for line in logs(fleet.urls[2])
        )

        forced = _provision(cli, fleet, batch, "--port", fleet.urls[1], "--baud", "460800", "--json")
        assert forced.code == 0, forced.err
        again = [json.loads(line) for line in forced.out.splitlines()]
        assert any(
            e["type"] == "step" and e["step"] == "flash" and e["message"].endswith("at 460800 baud")
            for e in again
        )


@pytest.mark.parametrize("rate", ["fast", "9600", "1000000", ""])
def test_a_baud_that_esptool_does_not_use_is_refused(  # type: ignore[no-untyped-def]
    cli, rate: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["provision", "--task", "dev", "--batch", "b", "--ssid", "s", "--password-stdin", "--all"]
    with pytest.raises(SystemExit) as exited:
        cli(*argv, "--baud", rate, stdin="x\n")
    assert exited.value.code == 2
    assert "argument --baud:" in capsys.readouterr().err
