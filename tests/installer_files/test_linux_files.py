"""The Linux package's files: the udev rule covers every adapter the station knows, the desktop entry
starts the installed window, and `build_deb` lays the package out (and builds it, where dpkg-deb is)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.ports import usb_ids

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"
sys.path.insert(0, str(PACKAGING))
import build_deb  # noqa: E402  (a script in packaging/, not a package)

RULE = PACKAGING / "linux" / "60-ql-station.rules"
DESKTOP = PACKAGING / "linux" / "quarklink-station.desktop"


def _rule_ids() -> tuple[set[int], set[tuple[int, int]]]:
    """(vendors granted whole, (vendor, product) pairs) from the rule's lines."""
    vendors: set[int] = set()
    pairs: set[tuple[int, int]] = set()
    for line in RULE.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        assert 'SUBSYSTEM=="tty"' in line and 'TAG+="uaccess"' in line, line
        vendor = re.search(r'ATTRS\{idVendor\}=="([0-9a-f]{4})"', line)
        product = re.search(r'ATTRS\{idProduct\}=="([0-9a-f]{4})"', line)
        assert vendor, line
        if product:
            pairs.add((int(vendor.group(1), 16), int(product.group(1), 16)))
        else:
            vendors.add(int(vendor.group(1), 16))
    return vendors, pairs


def test_the_udev_rule_covers_every_known_adapter() -> None:
    vendors, pairs = _rule_ids()
    known = set(usb_ids._KNOWN)
    uncovered = {(v, p) for v, p in known if v not in vendors and (v, p) not in pairs}
    assert not uncovered, f"add these to {RULE.name}: {sorted(uncovered)}"
    assert vendors == {usb_ids.ESPRESSIF_VID}  # any Espressif product id is a chip's own USB
    assert pairs <= known  # nothing granted that the station would not recognise


def test_the_desktop_entry_starts_the_installed_window() -> None:
    lines = DESKTOP.read_text().splitlines()
    assert lines[0] == "[Desktop Entry]"
    entry = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    assert entry["Type"] == "Application" and entry["Terminal"] == "false"
    assert entry["Exec"] == f'"/{build_deb.PREFIX}/QuarkLink Station"'
    assert entry["Icon"] == "quarklink-station"
    assert entry["Categories"].endswith(";")


def _fake_bundle(folder: Path) -> Path:
    bundle = folder / "quarklink-station"
    (bundle / "_internal").mkdir(parents=True)
    for name in ("ql-station", "QuarkLink Station"):
        (bundle / name).write_text("#!/bin/sh\n")
        (bundle / name).chmod(0o755)
    (bundle / "_internal" / "data.json").write_text("{}")
    return bundle


def test_the_staged_package_has_the_layout_a_person_gets(tmp_path: Path) -> None:
    staging = tmp_path / "root"
    staging.mkdir()
    build_deb.stage(_fake_bundle(tmp_path), staging, "9.8.7", "amd64")
    assert (staging / "opt/quarklink-station/ql-station").stat().st_mode & 0o777 == 0o755
    assert (staging / "opt/quarklink-station/_internal/data.json").stat().st_mode & 0o777 == 0o644
    link = staging / "usr/bin/ql-station"
    assert link.is_symlink() and str(link.readlink()) == "/opt/quarklink-station/ql-station"
    for path in (
        "usr/share/applications/quarklink-station.desktop",
        "usr/share/icons/hicolor/scalable/apps/quarklink-station.svg",
        "usr/lib/udev/rules.d/60-ql-station.rules",
    ):
        assert (staging / path).is_file(), path
    control = (staging / "DEBIAN/control").read_text()
    assert "Package: quarklink-station\nVersion: 9.8.7\nArchitecture: amd64\n" in control
    assert "libxcb-cursor0" in control
    assert (staging / "DEBIAN/postinst").stat().st_mode & 0o777 == 0o755


def test_a_folder_that_is_not_a_bundle_is_refused(tmp_path: Path) -> None:
    with pytest.raises(build_deb.PackagingError, match=r"not a built bundle.*make installer"):
        build_deb.stage(tmp_path, tmp_path / "root", "1", "amd64")


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed")
def test_dpkg_deb_builds_a_package_owned_by_root(tmp_path: Path) -> None:
    deb = build_deb.build(_fake_bundle(tmp_path), tmp_path / "out")
    assert deb.name == f"quarklink-station_{build_deb.version()}_{build_deb.architecture()}.deb"
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    assert "root/root" in listing and "./opt/quarklink-station/QuarkLink Station" in listing
    assert "./usr/bin/ql-station -> /opt/quarklink-station/ql-station" in listing
