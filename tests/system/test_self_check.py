"""The self-check's system checks against real things: files, folders, the keyring, ssl, dlopen, mode bits.

The serial-port check is given an identity (uid, groups) so a test running as root can still ask what a
plain user would be allowed; the ports themselves are real files with real owners and modes.
"""

from __future__ import annotations

import grp
import os
from pathlib import Path

import keyring.core
import pytest
from keyring.backends import fail

from app.system.self_check import (
    Check,
    Identity,
    Status,
    can_open,
    check_ca_bundle,
    check_data_folder,
    check_keyring,
    check_qt_platform,
    check_serial_access,
    qt_platforms_folder,
    run_self_check,
)

pytestmark = pytest.mark.skipif(os.name == "nt", reason="mode bits and dlopen are checked on POSIX")


def test_a_writable_data_folder_is_ok_and_created_private(tmp_path: Path) -> None:
    root = tmp_path / "new-station"
    check = check_data_folder(root)
    assert check.status is Status.OK, check
    assert "is writable" in check.detail and "GiB free" in check.detail
    assert root.is_dir() and (root.stat().st_mode & 0o777) == 0o700
    assert list(root.iterdir()) == []  # the probe file is gone


def test_a_data_folder_that_cannot_be_made_fails_with_what_to_do(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    check = check_data_folder(blocker / "station")
    assert check.status is Status.FAIL
    assert str(blocker / "station") in check.detail
    assert "--data-dir" in check.fix and "QL_STATION_HOME" in check.fix


def test_the_keyring_is_named_when_it_answers() -> None:
    check = check_keyring()  # the suite's file keyring (tests/conftest.py)
    assert check.status is Status.OK
    assert "FileKeyring" in check.detail


def test_no_keyring_is_a_warning_that_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring.core, "_keyring_backend", fail.Keyring())
    check = check_keyring()
    assert check.status is Status.WARN
    assert "keyring.backends.fail.Keyring" in check.detail
    assert "--passphrase-file" in check.fix and "Secret Service" in check.fix


def test_the_ca_bundle_loads() -> None:
    check = check_ca_bundle()
    assert check.status is Status.OK
    assert int(check.detail.split()[0]) > 50
    assert check.detail.endswith("cacert.pem")


def test_the_offscreen_platform_of_the_installed_qt_is_found() -> None:
    check = check_qt_platform({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert check.status is Status.OK, check
    assert "libqoffscreen.so" in check.detail


def test_a_platform_that_is_not_there_fails_and_lists_those_that_are() -> None:
    check = check_qt_platform({"QT_QPA_PLATFORM": "nosuch"}, "linux")
    assert check.status is Status.FAIL
    assert "'nosuch' (QT_QPA_PLATFORM)" in check.detail and "libqoffscreen.so" in check.detail
    assert "QT_QPA_PLATFORM" in check.fix


def test_an_x11_plugin_that_cannot_load_fails_with_the_packages_to_install(tmp_path: Path) -> None:
    (tmp_path / "libqxcb.so").write_bytes(b"not an ELF library")
    check = check_qt_platform({"DISPLAY": ":0"}, "linux", folder=tmp_path)
    assert check.status is Status.FAIL
    assert "cannot load" in check.detail
    assert "sudo apt install" in check.fix and "libxcb-cursor0" in check.fix


def test_without_a_display_the_window_is_a_warning_not_a_failure() -> None:
    check = check_qt_platform({}, "linux")
    assert check.status is Status.WARN
    assert "DISPLAY is not set" in check.detail and "the CLI works" in check.detail
    assert "offscreen" in check.fix


def test_qt_is_found_without_importing_it() -> None:
    folder = qt_platforms_folder()
    assert folder is not None and (folder / "libqoffscreen.so").is_file()


def _port(tmp_path: Path, name: str, gid: int, mode: int) -> Path:
    port = tmp_path / name
    port.write_bytes(b"")
    if os.geteuid() == 0:
        os.chown(port, 0, gid)
    port.chmod(mode)
    return port


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="sets a file's group: needs root")
def test_a_port_of_a_group_the_user_is_not_in_fails_naming_the_group(tmp_path: Path) -> None:
    dialout = grp.getgrnam("dialout").gr_gid
    port = _port(tmp_path, "ttyUSB0", dialout, 0o660)
    member = Identity(uid=4321, groups=frozenset({4321, dialout}), user="operator")
    stranger = Identity(uid=4321, groups=frozenset({4321}), user="operator")
    assert can_open(port, member) and not can_open(port, stranger)
    assert check_serial_access([port], member, "linux").status is Status.OK
    check = check_serial_access([port], stranger, "linux")
    assert check.status is Status.FAIL
    assert "operator cannot open" in check.detail and "'dialout'" in check.detail
    assert "sudo usermod -aG dialout operator" in check.fix


def test_a_port_open_to_its_owner_or_to_all_is_fine(tmp_path: Path) -> None:
    stranger = Identity(uid=4321, groups=frozenset({4321}), user="operator")
    assert can_open(_port(tmp_path, "ttyACM0", os.getgid(), 0o666), stranger)
    assert not can_open(_port(tmp_path, "ttyACM1", os.getgid(), 0o664), stranger)
    root = Identity(uid=0, groups=frozenset({0}), user="root")
    assert can_open(_port(tmp_path, "ttyACM2", os.getgid(), 0o600), root)


def test_with_no_port_plugged_in_the_group_membership_decides() -> None:
    dialout = grp.getgrnam("dialout").gr_gid
    member = Identity(uid=4321, groups=frozenset({4321, dialout}), user="operator")
    assert check_serial_access([], member, "linux").status is Status.OK
    root = Identity(uid=0, groups=frozenset({0}), user="root")
    assert check_serial_access([], root, "linux").status is Status.OK
    stranger = Identity(uid=4321, groups=frozenset({4321}), user="operator")
    check = check_serial_access([], stranger, "linux")
    # Without the station's udev rule on this machine, a user outside dialout could not open a board.
    if not any(Path(d, "60-ql-station.rules").exists() for d in ("/etc/udev/rules.d", "/lib/udev/rules.d")):
        assert check.status is Status.FAIL
        assert "usermod -aG dialout operator" in check.fix


def test_other_systems_need_no_group() -> None:
    assert check_serial_access(system="win32").status is Status.OK
    assert check_serial_access(system="darwin").status is Status.OK


def test_the_report_fails_when_one_check_fails_and_a_broken_check_does_not_hide_the_others(
    tmp_path: Path,
) -> None:
    def broken() -> list[Check]:
        raise RuntimeError("defect in a check")

    fine = run_self_check(tmp_path / "data")
    assert fine.ok
    names = [check.name for check in fine.checks]
    assert names[0] == "program" and {"keyring", "CA bundle", "Qt platform", "data folder"} <= set(names)
    report = run_self_check(tmp_path / "data", extra=[broken])
    assert not report.ok
    failed = report.with_status(Status.FAIL)
    assert [check.name for check in failed] == ["self-check"] and "defect in a check" in failed[0].detail
    assert len(report.checks) == len(fine.checks) + 1
    as_json = report.to_json()
    assert as_json["ok"] is False
    assert {"name", "status", "detail", "fix"} == set(as_json["checks"][0])  # type: ignore[index]
