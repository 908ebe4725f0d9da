"""`ql-station self-check`: what a person runs when a new line PC "does not work".

Each check looks at the real thing (the keyring answers, the CA bundle loads, the Qt platform plugin
and its system libraries load, a file can be written in the data folder, the serial ports can be
opened by this user) and says what it found and, when something is wrong, what to do about it.

- `FAIL`: a run needs it and it is missing; `ql-station self-check` exits non-zero.
- `WARN`: the station works, with a limit worth knowing (no OS keyring: the passphrase is asked for).
- `OK`.

No Qt here (the Qt platform is checked through its plugin files, loaded with ctypes, never through
PySide6), so the CLI runs it on a machine whose Qt cannot start, and the window runs the same checks
off its GUI thread. Checks that need esptool live above this layer (`app.flashing.toolchain_check`) and
are passed in by the caller.
"""

from __future__ import annotations

import ctypes
import glob
import importlib.util
import os
import platform
import shutil
import ssl
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from app import __version__
from app.domain.errors import StationError
from app.system.executable import is_frozen
from app.system.keyring_store import KeyringStore
from app.system.paths import DataDir

LOW_SPACE_BYTES = 200 * 1024 * 1024
SERIAL_PATTERNS = ("/dev/ttyUSB*", "/dev/ttyACM*")
SERIAL_GROUPS = ("dialout", "uucp")  # Debian/Ubuntu/Fedora, Arch
UDEV_RULE_NAME = "60-ql-station.rules"
UDEV_RULE_DIRS = ("/etc/udev/rules.d", "/usr/lib/udev/rules.d", "/lib/udev/rules.d")
# Libraries Qt's xcb plugin needs that a minimal Debian/Ubuntu install lacks, with their packages.
XCB_PACKAGES = (
    "libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 "
    "libxcb-render-util0 libegl1"
)


class Status(Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    """One finding: what was checked, what was found, and what to do when it is not OK."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status.value, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True)
class SelfCheckReport:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """True when nothing a run needs is missing (warnings allowed)."""
        return all(check.status is not Status.FAIL for check in self.checks)

    def with_status(self, status: Status) -> list[Check]:
        return [check for check in self.checks if check.status is status]

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "checks": [check.to_json() for check in self.checks]}


CheckSource = Callable[[], Iterable[Check]]


def run_self_check(data_dir: Path, extra: Sequence[CheckSource] = ()) -> SelfCheckReport:
    """Every check, in the order a person reads them. `extra` adds checks from higher layers (esptool).

    A check that breaks unexpectedly becomes a FAIL naming the error: the report is always complete.
    """
    sources: list[CheckSource] = [
        lambda: [check_program()],
        *extra,
        lambda: [check_keyring()],
        lambda: [check_ca_bundle()],
        lambda: [check_qt_platform()],
        lambda: [check_data_folder(data_dir)],
        lambda: [check_serial_access()],
    ]
    checks: list[Check] = []
    for source in sources:
        try:
            checks.extend(source())
        except Exception as exc:  # a defect in a check must not hide the others
            checks.append(Check("self-check", Status.FAIL, f"a check failed unexpectedly: {exc!r}"))
    return SelfCheckReport(tuple(checks))


def check_program() -> Check:
    where = f"frozen bundle in {Path(sys.executable).parent}" if is_frozen() else "from source"
    return Check(
        "program",
        Status.OK,
        f"ql-station {__version__} ({where}); Python {platform.python_version()} on "
        f"{platform.system()} {platform.release()} ({platform.machine()})",
    )


def check_keyring(store: KeyringStore | None = None) -> Check:
    """The OS keyring holds the key protecting instance private keys; without one a passphrase does."""
    import keyring

    store = store or KeyringStore()
    try:
        backend = keyring.get_keyring()
        name = f"{type(backend).__module__}.{type(backend).__name__}"
    except Exception as exc:
        name = f"unknown ({exc})"
    if store.available():
        return Check("keyring", Status.OK, f"OS keyring answers: {name}")
    return Check(
        "keyring",
        Status.WARN,
        f"no usable OS keyring (backend {name})",
        "The station still works: it asks for the passphrase that protects the instance's keys each "
        "time it needs it (the window asks at start; the CLI asks on the terminal or reads "
        "--passphrase-file FILE). To keep it in a keyring on Linux, run the station in a desktop session "
        "with an unlocked Secret Service (GNOME Keyring: sudo apt install gnome-keyring; or KWallet).",
    )


def check_ca_bundle() -> Check:
    """certifi's bundle, which `requests` falls back to (a paired instance is verified by its own CA)."""
    try:
        import certifi

        path = Path(certifi.where())
        context = ssl.create_default_context(cafile=str(path))
    except (ImportError, OSError, ssl.SSLError) as exc:
        return Check(
            "CA bundle",
            Status.FAIL,
            f"the CA certificate bundle cannot be loaded: {exc}",
            "Reinstall the station: the bundle is part of it.",
        )
    count = len(context.get_ca_certs())
    if count == 0:
        return Check("CA bundle", Status.FAIL, f"{path} holds no certificates", "Reinstall the station.")
    return Check("CA bundle", Status.OK, f"{count} certificates in {path}")


def _plugin_file(name: str, system: str) -> str:
    if system == "win32":
        return f"q{name}.dll"
    if system == "darwin":
        return f"libq{name}.dylib"
    return f"libq{name}.so"


def _default_platform(system: str) -> str:
    return {"win32": "windows", "darwin": "cocoa"}.get(system, "xcb")


def qt_platforms_folder() -> Path | None:
    """PySide6's platform plugin folder, found without importing PySide6 (None: PySide6 is missing)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "Qt" / "plugins" / "platforms"
        if folder.is_dir():
            return folder
    return Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms"


def check_qt_platform(
    env: Mapping[str, str] | None = None, system: str = sys.platform, folder: Path | None = None
) -> Check:
    """The platform plugin the window would use is there, and (X11) its system libraries load."""
    env = os.environ if env is None else env
    requested = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    name = requested or _default_platform(system)
    source = "QT_QPA_PLATFORM" if requested else "default"
    folder = folder or qt_platforms_folder()
    if folder is None:
        return Check(
            "Qt platform",
            Status.FAIL,
            "PySide6 (Qt) is not installed: the window cannot open (the CLI works)",
            "Reinstall the station.",
        )
    plugin = folder / _plugin_file(name, system)
    if not plugin.is_file():
        present = sorted(p.name for p in folder.glob("*")) if folder.is_dir() else []
        return Check(
            "Qt platform",
            Status.FAIL,
            f"Qt platform plugin '{name}' ({source}) is not in {folder} "
            f"(there: {', '.join(present) or 'none'})",
            "Reinstall the station, or choose a platform that is there with QT_QPA_PLATFORM "
            "(offscreen for headless checks).",
        )
    if name != "xcb":
        return Check("Qt platform", Status.OK, f"'{name}' ({source}): {plugin}")
    try:
        ctypes.CDLL(str(plugin))
        missing = ""
    except OSError as exc:
        missing = str(exc)
    install = f"Install the X11 libraries Qt needs: sudo apt install {XCB_PACKAGES}"
    if not env.get("DISPLAY"):
        return Check(
            "Qt platform",
            Status.WARN,
            "there is no X display here (DISPLAY is not set): the window cannot open in this session; "
            "the CLI works" + (f". Qt's X11 plugin cannot load either: {missing}" if missing else ""),
            "Start the window from a desktop session (Wayland desktops run it through XWayland), or set "
            "QT_QPA_PLATFORM=offscreen for a headless check." + (f" {install}" if missing else ""),
        )
    if missing:
        return Check("Qt platform", Status.FAIL, f"Qt's X11 plugin cannot load: {missing}", install)
    return Check("Qt platform", Status.OK, f"'xcb' ({source}) on display {env['DISPLAY']}: {plugin}")


def check_data_folder(root: Path) -> Check:
    """The data folder exists (or can be made, private to this user) and takes a file."""
    try:
        DataDir(root).ensure()
        with tempfile.NamedTemporaryFile(dir=root, prefix=".self-check-") as probe:
            probe.write(b"self-check")
            probe.flush()
            os.fsync(probe.fileno())
        free = shutil.disk_usage(root).free
    except (StationError, OSError) as exc:
        return Check(
            "data folder",
            Status.FAIL,
            f"{root} cannot be written: {exc}",
            "Choose a folder this user can write with --data-dir PATH or QL_STATION_HOME, or fix the "
            "folder's owner and permissions.",
        )
    detail = f"{root} is writable, {free / 1024**3:.1f} GiB free"
    if free < LOW_SPACE_BYTES:
        return Check("data folder", Status.WARN, detail, "Free some space: records and images need room.")
    return Check("data folder", Status.OK, detail)


@dataclass(frozen=True)
class Identity:
    """Who is asking: effective uid, the groups of this session, and the user name."""

    uid: int
    groups: frozenset[int]
    user: str

    @classmethod
    def current(cls) -> Identity:
        import pwd

        uid = os.geteuid()
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = str(uid)
        return cls(uid, frozenset([os.getegid(), *os.getgroups()]), user)


def can_open(path: Path, who: Identity) -> bool:
    """Read and write by mode bits, as the kernel decides for `who` (root may open anything)."""
    info = path.stat()
    if who.uid == 0:
        return True
    if info.st_uid == who.uid:
        return info.st_mode & 0o600 == 0o600
    if info.st_gid in who.groups:
        return info.st_mode & 0o060 == 0o060
    return info.st_mode & 0o006 == 0o006


def _group_name(gid: int) -> str:
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _serial_group() -> tuple[str, int, list[str]] | None:
    """The group that owns USB serial ports on this distribution: (name, gid, configured members)."""
    import grp

    for name in SERIAL_GROUPS:
        try:
            entry = grp.getgrnam(name)
        except KeyError:
            continue
        return entry.gr_name, entry.gr_gid, list(entry.gr_mem)
    return None


def _udev_rule() -> Path | None:
    for folder in UDEV_RULE_DIRS:
        rule = Path(folder) / UDEV_RULE_NAME
        if rule.is_file():
            return rule
    return None


def _join_fix(group: str, who: Identity, configured: Sequence[str]) -> str:
    if who.user in configured:
        return (
            f"{who.user} was added to '{group}' after this session started: log out and in again "
            "(or reboot) so the membership applies."
        )
    return (
        f"Add this user to '{group}' and log in again: sudo usermod -aG {group} {who.user}. "
        f"(The station's .deb also installs a udev rule, {UDEV_RULE_NAME}, that gives the desktop's "
        "user the usual USB-serial adapters.)"
    )


def check_serial_access(
    ports: Sequence[Path] | None = None, who: Identity | None = None, system: str = sys.platform
) -> Check:
    """Can this user open the boards' serial ports? On Linux that is the ports' group or a udev rule."""
    if system == "win32":
        return Check("serial ports", Status.OK, "Windows lets every user open COM ports")
    if system == "darwin":
        return Check("serial ports", Status.OK, "macOS lets every user open /dev/cu.* ports")
    who = who or Identity.current()
    if ports is None:
        ports = sorted(Path(p) for pattern in SERIAL_PATTERNS for p in glob.glob(pattern))
    if ports:
        blocked = [port for port in ports if not can_open(port, who)]
        if not blocked:
            names = ", ".join(p.name for p in ports)
            return Check("serial ports", Status.OK, f"{who.user} can open {names}")
        group = _group_name(blocked[0].stat().st_gid)
        import grp

        try:
            configured = list(grp.getgrnam(group).gr_mem)
        except KeyError:
            configured = []
        return Check(
            "serial ports",
            Status.FAIL,
            f"{who.user} cannot open {', '.join(str(p) for p in blocked)} (group '{group}')",
            _join_fix(group, who, configured),
        )
    if who.uid == 0:
        return Check("serial ports", Status.OK, "no USB serial port plugged in; root may open any")
    rule = _udev_rule()
    found = _serial_group()
    if found is not None and found[1] in who.groups:
        return Check(
            "serial ports",
            Status.OK,
            f"no USB serial port plugged in; {who.user} is in '{found[0]}', which owns them",
        )
    if rule is not None:
        return Check(
            "serial ports",
            Status.OK,
            f"no USB serial port plugged in; {rule} gives known USB-serial adapters to the desktop's user",
        )
    if found is None:
        return Check(
            "serial ports",
            Status.WARN,
            "no USB serial port plugged in, and no 'dialout' or 'uucp' group here to say who may open one",
            "Plug in a board and run the self-check again.",
        )
    return Check(
        "serial ports",
        Status.FAIL,
        f"{who.user} is not in '{found[0]}', the group that owns USB serial ports: a plugged-in board "
        "could not be opened",
        _join_fix(found[0], who, found[2]),
    )
