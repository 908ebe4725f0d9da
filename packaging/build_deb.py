"""Build the Debian package from the frozen bundle: `make deb`, or

    python3 packaging/build_deb.py --bundle build/dist/quarklink-station --out build/dist

What the package installs:
    /opt/quarklink-station/                       the onedir bundle (both executables + _internal/)
    /usr/bin/ql-station                           symlink to the console executable (on PATH)
    /usr/share/applications/quarklink-station.desktop
    /usr/share/icons/hicolor/scalable/apps/quarklink-station.svg
    /usr/lib/udev/rules.d/60-ql-station.rules    USB-serial adapters for the desktop's user (uaccess)

Built with `dpkg-deb --root-owner-group` from a staging folder, so no root and no fakeroot are needed.
The X11 libraries Qt's xcb plugin loads from the system are Depends, so `apt install ./<file>.deb`
brings them on a minimal install. Standard library only: it runs with any Python 3.11.
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINUX = Path(__file__).resolve().parent / "linux"
PACKAGE = "quarklink-station"
PREFIX = Path("opt") / PACKAGE
CONSOLE = "ql-station"
DEPENDS = (
    "libc6 (>= 2.31), libxcb-cursor0, libxkbcommon-x11-0, libxcb-icccm4, libxcb-keysyms1, "
    "libxcb-image0, libxcb-render-util0, libegl1, libfontconfig1"
)
# gzip, not dpkg-deb's default xz: measured on the 161 MiB bundle, xz took 4 min (1m52 CPU) for
# 58 MiB, gzip 20 s (8 s CPU) for 74 MiB. The package is built in every CI run.
COMPRESSION = ("-Zgzip", "-z6")

POSTINST = """#!/bin/sh
# Apply the station's udev rule to adapters already plugged in; refresh the menus.
set -e
if [ "$1" = "configure" ]; then
    if command -v udevadm >/dev/null 2>&1; then
        udevadm control --reload-rules || true
        udevadm trigger --subsystem-match=tty --action=change || true
    fi
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q /usr/share/applications || true
    fi
fi
exit 0
"""


class PackagingError(Exception):
    """The package could not be built; the message says why."""


def version() -> str:
    """`app.__version__`, read from the source file (this script does not import the app)."""
    text = (ROOT / "app" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if not found:
        raise PackagingError("app/__init__.py has no __version__")
    return found.group(1)


def architecture() -> str:
    dpkg = shutil.which("dpkg")
    if dpkg:
        return subprocess.run(
            [dpkg, "--print-architecture"], capture_output=True, text=True, check=True
        ).stdout.strip()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def control(ver: str, arch: str, installed_kib: int) -> str:
    return (
        f"Package: {PACKAGE}\n"
        f"Version: {ver}\n"
        f"Architecture: {arch}\n"
        "Maintainer: QuarkLink Station maintainers <station@quarklink.invalid>\n"
        f"Installed-Size: {installed_kib}\n"
        f"Depends: {DEPENDS}\n"
        "Section: electronics\n"
        "Priority: optional\n"
        "Description: QuarkLink Provisioning Station\n"
        " Provisions secure ESP32-family boards with a QuarkLink instance: flashes the secure\n"
        " bootloader and the Initial Enrolment Firmware with esptool, answers the firmware's\n"
        " requests and adds each board's DeviceID to a batch. Window: QuarkLink Station;\n"
        " command line: ql-station (run `ql-station self-check` on a new computer).\n"
    )


def _size_kib(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) // 1024 + 1


def stage(bundle: Path, staging: Path, ver: str, arch: str) -> None:
    """Lay out the package's files under `staging` (a fresh folder)."""
    if not (bundle / CONSOLE).is_file():
        raise PackagingError(f"{bundle} is not a built bundle (no {CONSOLE} in it); run `make installer`")
    shutil.copytree(bundle, staging / PREFIX, symlinks=True)
    (staging / "usr" / "bin").mkdir(parents=True)
    (staging / "usr" / "bin" / CONSOLE).symlink_to(Path("/") / PREFIX / CONSOLE)
    files = {
        LINUX / "quarklink-station.desktop": "usr/share/applications/quarklink-station.desktop",
        LINUX / "quarklink-station.svg": "usr/share/icons/hicolor/scalable/apps/quarklink-station.svg",
        LINUX / "60-ql-station.rules": "usr/lib/udev/rules.d/60-ql-station.rules",
    }
    for source, target in files.items():
        (staging / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, staging / target)
    debian = staging / "DEBIAN"
    debian.mkdir()
    (debian / "control").write_text(control(ver, arch, _size_kib(staging)), encoding="utf-8")
    (debian / "postinst").write_text(POSTINST, encoding="utf-8")
    for path in [staging, *staging.rglob("*")]:
        if path.is_symlink():
            continue
        executable = path.is_dir() or path.stat().st_mode & 0o111 or path.name == "postinst"
        path.chmod(0o755 if executable else 0o644)


def build(bundle: Path, out: Path) -> Path:
    """Build the package; returns its path. PackagingError when dpkg-deb is missing or fails."""
    dpkg_deb = shutil.which("dpkg-deb")
    if dpkg_deb is None:
        raise PackagingError("dpkg-deb is not installed (Debian/Ubuntu: it comes with dpkg)")
    ver, arch = version(), architecture()
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{PACKAGE}_{ver}_{arch}.deb"
    with tempfile.TemporaryDirectory(prefix="ql-deb-") as folder:
        staging = Path(folder) / "root"
        staging.mkdir()
        stage(bundle, staging, ver, arch)
        result = subprocess.run(
            [dpkg_deb, "--root-owner-group", *COMPRESSION, "--build", str(staging), str(target)],
            capture_output=True,
            text=True,
        )
    if result.returncode != 0:
        raise PackagingError(f"dpkg-deb failed: {result.stderr.strip() or result.stdout.strip()}")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the .deb from the frozen bundle.")
    parser.add_argument("--bundle", type=Path, default=ROOT / "build" / "dist" / PACKAGE)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "dist")
    args = parser.parse_args(argv)
    try:
        target = build(args.bundle, args.out)
    except PackagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{target} ({target.stat().st_size / 1024**2:.1f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
