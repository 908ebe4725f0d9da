from __future__ import annotations

import json

from cryptography.hazmat.primitives.serialization import load_pem_public_key

from tests.cli.conftest import Cli


def test_key_create_list_export(cli: Cli) -> None:
    created = cli("key", "create", "ec", "--type", "ecdsa-p256")
    assert created.code == 0, created.err
    keys = json.loads(cli("key", "list", "--json").out)
    assert [(k["name"], k["key_type"]) for k in keys] == [("ec", "ecdsa-p256")]
    assert len(keys[0]["key_digest_hex"]) == 64
    exported = cli("key", "export", "ec").out
    assert "PRIVATE" not in exported
    assert load_pem_public_key(exported.encode()).key_size == 256  # type: ignore[union-attr]


def test_key_bad_type(cli: Cli) -> None:
    result = cli("key", "create", "k", "--type", "dsa")
    assert result.code == 2 and "ecdsa-p256, rsa-3072" in result.err


def test_task_refuses_ecdsa_key_for_esp32c3(cli: Cli) -> None:
    cli("key", "create", "ec", "--type", "ecdsa-p256")
    result = cli(
        "task",
        "create",
        "t",
        "--device-type",
        "esp32c3",
        "--bootloader",
        "dev",
        "--ief",
        "debug",
        "--key",
        "ec",
    )
    assert result.code == 2
    assert "rsa-3072" in result.err


def test_task_bad_words(cli: Cli) -> None:
    result = cli(
        "task",
        "create",
        "t",
        "--device-type",
        "esp8266",
        "--bootloader",
        "dev",
        "--ief",
        "debug",
        "--key",
        "k",
    )
    assert result.code == 2 and "unknown device type" in result.err
    result = cli(
        "task",
        "create",
        "t",
        "--device-type",
        "esp32c3",
        "--bootloader",
        "prod",
        "--ief",
        "debug",
        "--key",
        "k",
    )
    assert result.code == 2 and "dev, release" in result.err
    result = cli(
        "task",
        "create",
        "t",
        "--device-type",
        "esp32c3",
        "--bootloader",
        "dev",
        "--ief",
        "debug",
        "--key",
        "none",
    )
    assert result.code == 2 and "none" in result.err


def test_image_list_has_simulation_images(cli: Cli) -> None:
    images = json.loads(cli("image", "list", "--device-type", "esp32c3", "--json").out)
    kinds = {(i["kind"], i["variant"]) for i in images if i["simulation"]}
    assert {
        ("bootloader", "dev"),
        ("bootloader", "release"),
        ("partition-table", ""),
        ("ief", "debug"),
    } <= kinds
    assert all(i["device_type"] == "esp32c3" for i in images)


def test_task_update_changes_only_what_is_given_and_delete_removes_it(cli: Cli) -> None:
    cli("key", "create", "k", "--type", "rsa-3072")
    created = cli(
        "task",
        "create",
        "t",
        "--device-type",
        "esp32c3",
        "--bootloader",
        "dev",
        "--ief",
        "debug",
        "--key",
        "k",
    )
    assert created.code == 0, created.err
    updated = cli("task", "update", "t", "--ief", "non-debug")
    assert updated.code == 0, updated.err
    assert (
        "ESP32-C3, dev bootloader (sim-esp32c3-bootloader-dev), non-debug IEF (sim-esp32c3-ief-non-debug)"
        in (updated.out)
    )
    moved = cli("task", "update", "t", "--device-type", "esp32s3")
    assert moved.code == 0 and "ESP32-S3" in moved.out and "sim-esp32s3-ief-non-debug" in moved.out
    tasks = json.loads(cli("task", "list", "--json").out)
    assert [(t["name"], t["device_type"], t["ief"]) for t in tasks] == [("t", "esp32s3", "non-debug")]
    unknown = cli("task", "update", "nope", "--ief", "debug")
    assert unknown.code != 0 and "there is no task named 'nope'" in unknown.err
    assert cli("task", "delete", "t").code == 0
    assert json.loads(cli("task", "list", "--json").out) == []
    again = cli("task", "delete", "t")
    assert again.code != 0 and "there is no task named 't'" in again.err


def test_task_run_options_from_the_command_line(cli: Cli) -> None:
    cli("key", "create", "rsa", "--type", "rsa-3072")
    base = ["--device-type", "esp32c3", "--bootloader", "dev", "--ief", "debug", "--key", "rsa"]
    created = cli("task", "create", "t", *base)
    assert created.code == 0, created.err
    assert "waits 60 s for enrolment, flashes at the USB bridge's rate" in created.out
    fixed = cli("task", "update", "t", "--enrol-wait", "20", "--baud", "460800")
    assert fixed.code == 0 and "waits 20 s for enrolment, flashes at 460800 baud" in fixed.out, fixed.err
    kept = cli("task", "update", "t", "--ief", "non-debug")
    assert "waits 20 s for enrolment, flashes at 460800 baud" in kept.out, "options not given are kept"
    (listed,) = json.loads(cli("task", "list", "--json").out)
    assert listed["run_options"] == {"enrol_wait_s": 20.0, "flash_baud": 460800}
    off = cli("task", "update", "t", "--enrol-wait", "0", "--baud", "auto")
    assert "does not wait for enrolment, flashes at the USB bridge's rate" in off.out, off.err
    assert "off" in cli("task", "list").out.splitlines()[-1]


def test_task_run_options_refuse_bad_values(cli: Cli) -> None:
    cli("key", "create", "rsa", "--type", "rsa-3072")
    base = ["--device-type", "esp32c3", "--bootloader", "dev", "--ief", "debug", "--key", "rsa"]
    slow = cli("task", "create", "t", *base, "--baud", "9600")
    assert slow.code != 0 and "--baud 9600 is not a flashing rate; pick one of 115200" in slow.err
    fast = cli("task", "create", "t", *base, "--baud", "fast")
    assert fast.code != 0 and "--baud must be a baud rate (a number) or auto; got 'fast'" in fast.err
    long = cli("task", "create", "t", *base, "--enrol-wait", "7200")
    assert long.code != 0 and "the wait for enrolment must be 0 (do not wait) to 3600 seconds" in long.err
    assert json.loads(cli("task", "list", "--json").out) == [], "nothing is created from a refused option"
