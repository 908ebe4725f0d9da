"""Input a person can give the CLI by accident or on purpose: each ends in `error: ...`, never a traceback.

Arguments and stdin that are not UTF-8 can only be given to a real process (the interpreter turns argv
bytes into lone surrogates), so those cases run `python -m app` in a subprocess; the rest run in-process
against a real data folder.
"""

from __future__ import annotations

import io
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli.main import run
from app.domain.chips import ChipType
from app.domain.errors import ValidationError
from app.domain.kinds import BootloaderKind, IefKind
from app.domain.records import MAX_OFFSET, PageRequest
from app.sim.images import build_sim_bootloader, build_sim_ief
from tests.cli.conftest import Cli

MEMORY_LIMIT = 1 << 30  # a child that reads a stream whole dies here instead of taking the machine


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _station(data_dir: Path, *argv: bytes | str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": ""}
    return subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(data_dir), *argv],
        input=stdin,
        capture_output=True,
        timeout=60,
        env=env,
        preexec_fn=_limit_memory,
        check=False,
    )


def _assert_clean_error(result: subprocess.CompletedProcess[bytes], *needles: str) -> str:
    err = result.stderr.decode("utf-8", "backslashreplace")
    assert "Traceback" not in err, err
    assert result.returncode == 2, err
    assert "error: " in err, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        ((b"batch", b"create", b"line-\xff\xfe"), "argument name"),
        ((b"batch", b"list", b"--search", b"\xff"), "argument --search"),
        ((b"--user", b"op\xc3", b"batch", b"list"), "argument --user"),
        ((b"batch", b"list", b"--search=x\x80y"), "argument --search"),
        (
            (
                b"provision",
                b"--task",
                b"t",
                b"--batch",
                b"b",
                b"--all",
                b"--ssid",
                b"lab\xff",
                b"--password-stdin",
            ),
            "argument --ssid",
        ),
    ],
)
def test_argument_that_is_not_utf8_is_named(data_dir: Path, argv: tuple[bytes, ...], named: str) -> None:
    err = _assert_clean_error(_station(data_dir, *argv), named, "not valid UTF-8")
    assert "byte 0x" in err


def test_password_on_stdin_that_is_not_utf8_is_refused_without_echo(data_dir: Path) -> None:
    result = _station(
        data_dir,
        "user",
        "create",
        "bob",
        "--role",
        "administrator",
        "--password-stdin",
        stdin=b"s3cret-pass\xff\n",
    )
    err = _assert_clean_error(result, "password", "not valid UTF-8")
    assert "s3cret" not in err


@pytest.mark.usefixtures("no_keyring")
@pytest.mark.parametrize("content", [b"hunter2-\xff\xfe", b"hunter2-" + b"x" * (1 << 20)])
def test_passphrase_file_that_is_not_text_is_refused_without_echo(
    tmp_path: Path, data_dir: Path, content: bytes
) -> None:
    secret = tmp_path / "passphrase"
    secret.write_bytes(content)
    code, _out, err = _run_in_process("--data-dir", str(data_dir), "--passphrase-file", str(secret), "log")
    assert code == 2 and err.startswith("error: "), err
    assert str(secret) in err and "hunter2" not in err


def _run_in_process(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_batch_file_that_never_ends_is_capped(data_dir: Path) -> None:
    result = _station(data_dir, "batch", "add", "b", "--file", "/dev/zero")
    _assert_clean_error(result, "/dev/zero", "MiB")


def test_image_file_that_never_ends_is_capped(tmp_path: Path, data_dir: Path) -> None:
    endless = tmp_path / "ief.bin"
    endless.symlink_to("/dev/zero")
    result = _station(
        data_dir,
        "image",
        "import",
        str(endless),
        "--device-type",
        "esp32",
        "--kind",
        "ief",
        "--variant",
        "debug",
    )
    _assert_clean_error(result, "ief.bin", "MiB")


@pytest.mark.parametrize(
    "argv",
    [
        ("batch", "show", "b", "--offset", str(2**63)),
        ("batch", "show", "b", "--offset", str(MAX_OFFSET + 1)),
        ("records", "--offset", str(2**63)),
        ("batch", "show", "b", "--limit", str(2**64)),
        ("log", "--limit", str(2**64)),
    ],
)
def test_offsets_and_limits_beyond_range_name_the_option(cli: Cli, argv: tuple[str, ...]) -> None:
    option = argv[-2]
    result = cli(*argv)
    assert result.code == 2
    assert result.err.startswith(f"error: {option} must be")
    assert f"{MAX_OFFSET:,}" in result.err


def test_page_request_beyond_range_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="offset"):
        PageRequest(offset=2**63)


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    file = tmp_path / "station"
    file.write_text("not a folder")
    for command in (("batch", "list"), ("records",), ("log",)):
        code, _out, err = _run_in_process("--data-dir", str(file), *command)
        assert code == 2 and err.startswith(f"error: --data-dir {file} is a file, not a folder"), err


@pytest.mark.parametrize(
    ("argv", "code_point"),
    [
        (("batch", "create", "line\u202e1"), "U+202E"),
        (("batch", "create", "line\u20281"), "U+2028"),
        (("batch", "create", "line1\u2029"), "U+2029"),
        (("key", "create", "k\u200b", "--type", "ecdsa-p256"), "U+200B"),
        (("batch", "create", "a\x85b"), "U+0085"),
        (("batch", "create", "ok", "--policy", "\x1bpolicy"), "U+001B"),
        (("user", "create", "bob\u2028", "--role", "administrator", "--password-stdin"), "U+2028"),
    ],
)
def test_names_with_control_or_format_characters(cli: Cli, argv: tuple[str, ...], code_point: str) -> None:
    result = cli(*argv, stdin="a long enough password\n")
    assert result.code == 2, result.out
    assert code_point in result.err and "position" in result.err


@pytest.mark.parametrize(
    "endpoint", ["host\nname", "host\n", "fe80::1%eth\n0", "fe80::1%eth0", "a\u200bb.lan"]
)
def test_instance_endpoint_with_control_characters_or_scope(cli: Cli, endpoint: str) -> None:
    result = cli("instance", "params", "--endpoint", endpoint)
    assert result.code == 2, result.out
    assert "endpoint" in result.err


def test_bootloader_imported_as_ief_and_back(cli: Cli, tmp_path: Path) -> None:
    boot = tmp_path / "boot.bin"
    boot.write_bytes(build_sim_bootloader(ChipType.ESP32C3, BootloaderKind.DEV))
    ief = tmp_path / "ief.bin"
    ief.write_bytes(build_sim_ief(ChipType.ESP32C3, IefKind.DEBUG))
    as_ief = cli(
        "image", "import", str(boot), "--device-type", "esp32c3", "--kind", "ief", "--variant", "debug"
    )
    assert as_ief.code == 2 and "bootloader" in as_ief.err, as_ief.err
    as_boot = cli(
        "image", "import", str(ief), "--device-type", "esp32c3", "--kind", "bootloader", "--variant", "dev"
    )
    assert as_boot.code == 2 and "app" in as_boot.err, as_boot.err
