"""`make installer-check`: the frozen program, installed from its package, does the whole job.

    python3 packaging/installer_check.py --bundle build/dist/quarklink-station --out build/dist [--keep]

1. package: build the .deb from the bundle and unpack it into a temporary root with `dpkg-deb -x`
   (nothing is installed on this machine); check the files a person gets (ql-station on PATH, the
   desktop entry, the icon, the udev rule). Without dpkg-deb the bundle itself is checked and the
   package step says it was skipped and why.
2. `ql-station --version`
3. `ql-station self-check --json`: every chip's stub flasher and eFuse table, nothing missing
4. `ql-station sim` with two virtual boards, then the README's CLI walk-through through the frozen
   CLI (key, task, batch, `provision --all`): both boards pass and both DeviceIDs are in the batch
5. the windowed executable, offscreen, to its first window (app/ui/startup_probe.py), first and warm
6. `ql-station serve`: a user signs in over HTTPS (verified against the instance's root CA), then one
   authenticated GET
Then the figures: bundle and package size, CLI and GUI start times.

Every program runs from the unpacked root, in a temporary working folder, with a temporary data folder,
`PYTHONPATH` removed, and never a real keyring: the CLI steps use the no-keyring path (the fail backend and
`--passphrase-file`); the window, which would ask for a passphrase in a dialog, gets a file keyring from a
keyring config file, which also shows that the frozen keyring finds a configured backend.
Standard library only; any failure prints what ran and its output, and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_deb  # this folder's sibling script

ROOT = Path(__file__).resolve().parents[1]
CLI = "ql-station"
GUI = "QuarkLink Station"
CHIPS = ("ESP32", "ESP32-C3", "ESP32-S2", "ESP32-S3")
PASSPHRASE = "installer-check passphrase, not a secret"  # noqa: S105 - a throwaway test instance's
USER_PASSWORD = "installer-check user password"  # noqa: S105 - likewise
GUI_GOAL_S = 1.5
STEP_TIMEOUT_S = 180


class CheckFailed(Exception):
    """A step did not do what it must; the message says what ran and what came back."""


def _tail(text: str | None, lines: int = 25) -> str:
    return "\n".join((text or "").strip().splitlines()[-lines:])


class Frozen:
    """The frozen program in an unpacked root, run with an isolated environment."""

    def __init__(self, program_dir: Path, work: Path) -> None:
        self.dir = program_dir
        self.work = work
        self.cli = program_dir / CLI
        self.gui = program_dir / GUI
        self.passphrase_file = work / "passphrase"
        self.passphrase_file.write_text(PASSPHRASE + "\n", encoding="utf-8")
        self.passphrase_file.chmod(0o600)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "QL_", "QT_"))}
        env.update(
            QL_STATION_HOME=str(work / "home"),
            XDG_CONFIG_HOME=str(work / "config"),
            XDG_DATA_HOME=str(work / "data-home"),
            QT_QPA_PLATFORM="offscreen",
            PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        )
        self.env = env

    def command(self, data_dir: Path, *argv: str) -> list[str]:
        return [
            str(self.cli),
            "--data-dir",
            str(data_dir),
            "--passphrase-file",
            str(self.passphrase_file),
            *argv,
        ]

    def run(
        self,
        argv: Sequence[str],
        stdin: str = "",
        timeout: float = STEP_TIMEOUT_S,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        try:
            result = subprocess.run(
                list(argv),
                input=stdin,
                capture_output=True,
                text=True,
                cwd=self.work,
                env=env or self.env,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise CheckFailed(f"{_shown(argv)} did not finish within {timeout:g} s") from None
        if result.returncode != 0:
            raise CheckFailed(
                f"{_shown(argv)} exited {result.returncode}\n--- stdout\n{_tail(result.stdout)}\n"
                f"--- stderr\n{_tail(result.stderr)}"
            )
        return result

    def start(self, argv: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.work,
            env=env or self.env,
        )


def _shown(argv: Sequence[str]) -> str:
    return " ".join(f"'{a}'" if " " in a else a for a in argv)


class Lines:
    """A child's stream read on a thread, so waiting for a line has a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float, what: str) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self._queue.get(timeout=max(0.0, left)) if left > 0 else None
            except queue.Empty:
                line = None
            if line is None:
                raise CheckFailed(
                    f"{what}: no line matching {pattern!r}; it printed:\n{_tail(''.join(self.seen))}"
                )
            self.seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found


@contextmanager
def running(
    process: subprocess.Popen[str], name: str, stop: int = signal.SIGINT
) -> Iterator[subprocess.Popen[str]]:
    """Stop `process` with `stop` on the way out and insist it exits 0 (a clean stop) unless a step failed."""
    failed = False
    try:
        yield process
    except BaseException:
        failed = True
        raise
    finally:
        if process.poll() is None:
            process.send_signal(stop)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code = None
        if not failed and code != 0:
            raise CheckFailed(f"{name} did not stop cleanly on signal {stop} (exit {code})")


class CommandWatch:
    """Notes whether a process whose command line holds all of `words` ran during the block (/proc)."""

    def __init__(self, *words: str) -> None:
        self.words = words
        self.seen = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._scan, daemon=True)

    def __enter__(self) -> CommandWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _scan(self) -> None:
        while not self._stop.wait(0.05) and not self.seen:
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    argv = cmdline.read_bytes().split(b"\0")
                except OSError:
                    continue
                if all(word.encode() in argv for word in self.words):
                    self.seen = True
                    return


class Steps:
    def __init__(self) -> None:
        self.passed: list[str] = []
        self.skipped: list[str] = []
        self.figures: list[tuple[str, str]] = []

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        try:
            yield
        except CheckFailed as exc:
            print(f"FAILED: {name}\n{exc}", flush=True)
            raise
        print(f"   passed in {time.perf_counter() - started:.1f} s", flush=True)
        self.passed.append(name)

    def note(self, text: str) -> None:
        print(f"   {text}", flush=True)


def folder_size(folder: Path) -> tuple[int, int]:
    """(bytes of file contents, bytes on disk)."""
    files = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
    return sum(p.stat().st_size for p in files), sum(p.stat().st_blocks * 512 for p in files)


def mib(size: float) -> str:
    return f"{size / 1024**2:.1f} MiB"


def unpack_package(steps: Steps, bundle: Path, out: Path, work: Path) -> Path:
    """The program folder to run from: the unpacked package's, or the bundle's when there is no dpkg-deb."""
    dpkg_deb = shutil.which("dpkg-deb")
    if dpkg_deb is None:
        print(
            "== package: SKIPPED (dpkg-deb is not installed here, so no .deb was built; the bundle itself "
            "is checked instead. On Debian/Ubuntu dpkg-deb comes with dpkg.)",
            flush=True,
        )
        steps.skipped.append("package")
        return bundle
    with steps.step("package: build the .deb and unpack it with dpkg-deb -x"):
        try:
            deb = build_deb.build(bundle, out)
        except build_deb.PackagingError as exc:
            raise CheckFailed(str(exc)) from None
        root = work / "root"
        root.mkdir(parents=True)
        subprocess.run([dpkg_deb, "-x", str(deb), str(root)], check=True)
        program = root / build_deb.PREFIX
        link = root / "usr" / "bin" / CLI
        if not link.is_symlink() or os.readlink(link) != f"/{build_deb.PREFIX}/{CLI}":
            raise CheckFailed(f"/usr/bin/{CLI} is not a link to /{build_deb.PREFIX}/{CLI}")
        for relative in (
            "usr/share/applications/quarklink-station.desktop",
            "usr/share/icons/hicolor/scalable/apps/quarklink-station.svg",
            "usr/lib/udev/rules.d/60-ql-station.rules",
            f"{build_deb.PREFIX}/{CLI}",
            f"{build_deb.PREFIX}/{GUI}",
        ):
            if not (root / relative).is_file():
                raise CheckFailed(f"the package has no /{relative}")
        desktop = (root / "usr/share/applications/quarklink-station.desktop").read_text(encoding="utf-8")
        if f'Exec="/{build_deb.PREFIX}/{GUI}"' not in desktop:
            raise CheckFailed("the desktop entry does not start the installed window")
        steps.note(f"{deb.name}: {mib(deb.stat().st_size)}")
        steps.figures.append(("package (.deb, gzip)", mib(deb.stat().st_size)))
    return program


def check_version(steps: Steps, frozen: Frozen) -> None:
    with steps.step("--version"):
        expected = f"{CLI} {build_deb.version()}"
        times = []
        for _ in range(3):
            started = time.perf_counter()
            result = frozen.run([str(frozen.cli), "--version"])
            times.append(time.perf_counter() - started)
            if result.stdout.strip() != expected:
                raise CheckFailed(f"--version printed {result.stdout.strip()!r}, not {expected!r}")
        steps.note(f"{expected}; best of 3: {min(times):.2f} s")
        steps.figures.append(("frozen CLI --version (best of 3)", f"{min(times):.2f} s"))


def check_self_check(steps: Steps, frozen: Frozen) -> None:
    with steps.step("self-check --json"):
        result = frozen.run(frozen.command(frozen.work / "self-check", "self-check", "--json"))
        report = json.loads(result.stdout)
        by_name = {check["name"]: check for check in report["checks"]}
        for chip in CHIPS:
            check = by_name.get(f"{chip} support")
            if check is None or check["status"] != "ok":
                raise CheckFailed(f"{chip}: {check}")
        if not report["ok"]:
            raise CheckFailed(f"self-check says something is missing: {report}")
        for check in report["checks"]:
            steps.note(f"{check['status'].upper():<5} {check['name']}: {check['detail']}")


def check_provisioning(steps: Steps, frozen: Frozen, station: Path) -> None:
    with steps.step("sim with two virtual boards, then key, task, batch and provision --all"):
        sim = frozen.start(frozen.command(station, "sim", "--boards", "2", "--chip", "esp32c3"))
        with running(sim, "sim"):
            assert sim.stdout is not None and sim.stderr is not None
            urls = Lines(sim.stdout)
            ports = [urls.wait_for(r"^(rfc2217://\S+)", 60, "sim").group(1) for _ in range(2)]
            ssid = Lines(sim.stderr).wait_for(r"SSID '([^']+)'", 30, "sim").group(1)
            steps.note(f"boards at {', '.join(ports)}; network {ssid}")
            frozen.run(frozen.command(station, "key", "create", "k1", "--type", "rsa-3072"))
            frozen.run(
                frozen.command(
                    station,
                    "task",
                    "create",
                    "demo",
                    "--device-type",
                    "esp32c3",
                    "--bootloader",
                    "dev",
                    "--ief",
                    "debug",
                    "--key",
                    "k1",
                )
            )
            frozen.run(frozen.command(station, "batch", "create", "line-1"))
            password = (station / "sim" / "access-point-password").read_text(encoding="utf-8")
            started = time.perf_counter()
            with CommandWatch(str(frozen.cli), "worker-fork-server") as fork_server:
                result = frozen.run(
                    frozen.command(
                        station,
                        "provision",
                        "--task",
                        "demo",
                        "--batch",
                        "line-1",
                        "--ssid",
                        ssid,
                        "--password-stdin",
                        "--all",
                        "--json",
                    ),
                    stdin=password,
                )
            took = time.perf_counter() - started
            events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
            results = [e for e in events if e["type"] == "result"]
            given = {e["device_id"] for e in events if e["type"] == "device_id"}
            if len(results) != 2 or any(r["outcome"] != "pass" for r in results):
                raise CheckFailed(f"not two passes: {results}")
            if len(given) != 2:
                raise CheckFailed(f"expected two DeviceIDs from the boards, got {sorted(given)}")
            shown = json.loads(
                frozen.run(frozen.command(station, "batch", "show", "line-1", "--json")).stdout
            )
            in_batch = {d["device_id"] for d in shown["devices"]}
            if in_batch != given:
                raise CheckFailed(f"batch line-1 holds {sorted(in_batch)}, the boards gave {sorted(given)}")
            steps.note(f"2 of 2 passed in {took:.1f} s; both DeviceIDs are in batch line-1")
            if sys.platform.startswith("linux"):
                if not fork_server.seen:
                    raise CheckFailed("the port workers did not come from the frozen worker fork server")
                steps.note("port workers were forked by the frozen executable's worker-fork-server")


def check_gui(steps: Steps, frozen: Frozen) -> None:
    with steps.step("the window (offscreen) to its first paint, first and warm start"):
        env = dict(
            frozen.env, QL_STATION_STARTUP_PROBE="1", QL_TEST_KEYRING_FILE=str(frozen.work / "keyring.json")
        )
        del env["PYTHON_KEYRING_BACKEND"]
        backends = frozen.work / "keyring-backends"
        backends.mkdir()
        shutil.copyfile(ROOT / "tests" / "support" / "file_keyring.py", backends / "ql_check_keyring.py")
        config = Path(env["XDG_CONFIG_HOME"]) / "python_keyring"
        config.mkdir(parents=True)
        (config / "keyringrc.cfg").write_text(
            f"[backend]\ndefault-keyring=ql_check_keyring.FileKeyring\nkeyring-path={backends}\n",
            encoding="utf-8",
        )
        data = frozen.work / "gui-station"
        for label in ("first start", "warm start"):
            started = time.perf_counter()
            result = frozen.run([str(frozen.gui), "--data-dir", str(data)], env=env, timeout=120)
            outside = time.perf_counter() - started
            shown = re.search(r"^window-shown (\d+\.\d+)", result.stdout, re.MULTILINE)
            if not shown:
                raise CheckFailed(
                    f"the window never painted; it printed:\n{_tail(result.stdout + result.stderr)}"
                )
            steps.note(
                f"{label}: first paint {float(shown.group(1)):.2f} s after process start "
                f"(whole run {outside:.2f} s)"
            )
            steps.figures.append((f"frozen GUI {label} to first paint", f"{float(shown.group(1)):.2f} s"))


def check_serve(steps: Steps, frozen: Frozen, station: Path) -> None:
    with steps.step("serve: sign in over HTTPS, then one authenticated GET"):
        # Read before the first user exists: from then on every command needs a signed-in user.
        params = json.loads(frozen.run(frozen.command(station, "instance", "params", "--json")).stdout)
        frozen.run(
            frozen.command(station, "user", "create", "alice", "--role", "administrator", "--password-stdin"),
            stdin=USER_PASSWORD + "\n",
        )
        context = ssl.create_default_context(cadata=params["root_ca_pem"])
        serve = frozen.start(
            frozen.command(station, "serve", "--listen", "127.0.0.1:0", "--hostname", "localhost")
        )
        with running(serve, "serve", stop=signal.SIGTERM):
            assert serve.stdout is not None
            url = Lines(serve.stdout).wait_for(r"at (https://\S+)", 60, "serve").group(1)
            body = json.dumps({"username": "alice", "password": USER_PASSWORD}).encode()
            _, signed_in = https(url + "/v1/session", context, body=body)
            status, payload = https(url + "/v1/info", context, token=str(signed_in["token"]))
            if status != 200 or "alice" not in json.dumps(payload):
                raise CheckFailed(f"GET /v1/info answered {status}: {payload}")
            steps.note(f"{url}: signed in as alice; GET /v1/info -> {status}")


def https(
    url: str, context: ssl.SSLContext, body: bytes | None = None, token: str | None = None
) -> tuple[int, dict[str, object]]:
    """One HTTPS request (POST with a JSON body, else GET), verified by `context`: (status, JSON answer)."""
    if not url.startswith("https://"):
        raise CheckFailed(f"serve printed {url}, not an https:// address")
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST" if body else "GET")  # noqa: S310
    with urllib.request.urlopen(request, context=context, timeout=30) as answer:  # noqa: S310 - https only
        return int(answer.status), json.loads(answer.read())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "build" / "dist" / "quarklink-station")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "dist")
    parser.add_argument("--keep", action="store_true", help="keep the temporary root and data folders")
    args = parser.parse_args(argv)
    if not (args.bundle / CLI).is_file():
        print(f"error: {args.bundle} has no {CLI}; run `make installer` first", file=sys.stderr)
        return 2
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="ql-installer-check-"))
    steps = Steps()
    passed = False
    try:
        program = unpack_package(steps, args.bundle, args.out, work / "unpacked")
        content, on_disk = folder_size(program)
        steps.figures.insert(0, ("bundle on disk", f"{mib(on_disk)} ({mib(content)} of files)"))
        run_in = work / "run"
        run_in.mkdir()
        frozen = Frozen(program, run_in)
        station = run_in / "station"
        check_version(steps, frozen)
        check_self_check(steps, frozen)
        check_provisioning(steps, frozen, station)
        check_gui(steps, frozen)
        check_serve(steps, frozen, station)
        passed = True
    except (CheckFailed, OSError, subprocess.CalledProcessError, ValueError, KeyError) as exc:
        if not isinstance(exc, CheckFailed):
            print(f"FAILED: {type(exc).__name__}: {exc}", flush=True)
        print(f"\ninstaller-check FAILED after {len(steps.passed)} step(s); files kept in {work}", flush=True)
        return 1
    finally:
        if passed and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("\nFigures:")
    for name, value in steps.figures:
        print(f"  {name:<38} {value}")
    skipped = f"; skipped: {', '.join(steps.skipped)}" if steps.skipped else ""
    print(
        f"\ninstaller-check OK: all {len(steps.passed)} steps "
        f"in {time.perf_counter() - started:.0f} s{skipped}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
