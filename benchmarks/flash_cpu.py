"""CPU seconds per MiB flashed: the station's flashing library vs the plain esptool CLI.

Both write the same 1 MiB image at 0x10000 to the same peer (esp32-mock-bootloader, a fresh instance
per run, socket://, no reset), each in its own process, as the station's port workers do. For each
run we report the CPU time of the whole flashing process (user + system, from the OS after it exits,
children included) and the CPU time of the flash itself (connect, stub, baud, write + verify, reset),
measured inside the process after its imports. The CLI side runs `esptool.main()` with the same
arguments the `esptool` command gets. Linux/macOS (uses `resource`).

    .venv/bin/python benchmarks/flash_cpu.py [--runs 3] [--size-mib 1]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OFFSET = 0x10000
BAUD = 921600
RESULT_PREFIX = "BENCH-RESULT "

STATION_CODE = """
import json, sys, time
from app.domain.kinds import ImageKind
from app.domain.records import FlashImage
from app.flashing.board_connection import BoardConnection, ResetMode
from app.flashing.esptool_runtime import CPU_PATCH
url, path, offset, baud = sys.argv[1], sys.argv[2], int(sys.argv[3], 0), int(sys.argv[4])
data = open(path, "rb").read()
t0 = time.process_time()
with BoardConnection.open(url, reset=ResetMode.NO_RESET) as board:
    board.run_stub()
    board.change_baud(baud)
    result = board.write_images([FlashImage(offset, ImageKind.IEF, "image", data)])
    board.hard_reset()
cpu = time.process_time() - t0
print("BENCH-RESULT " + json.dumps({"flash_cpu": cpu, "ok": all(result.verified), "patch": CPU_PATCH.active}))
"""

CLI_CODE = """
import json, sys, time
import esptool
url, path, offset, baud = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
args = ["--port", url, "--before", "no-reset", "--after", "no-reset", "--baud", baud,
        "write-flash", offset, path]
t0 = time.process_time()
ok = True
try:
    esptool.main(args)
except SystemExit as stop:
    ok = stop.code in (None, 0)
cpu = time.process_time() - t0
print("BENCH-RESULT " + json.dumps({"flash_cpu": cpu, "ok": ok}))
"""


@dataclass(frozen=True)
class Run:
    process_cpu: float
    flash_cpu: float
    wall: float
    ok: bool


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_mock(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = workdir / f"mock-{port}.log"
    exe = Path(sys.executable).with_name("esp32-mock-bootloader")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(exe), "run", "--chip", "esp32c3", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 20
    while b"listening on" not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise SystemExit(f"esp32-mock-bootloader did not start: {log.read_text(errors='replace')}")
        time.sleep(0.05)
    return process, f"socket://127.0.0.1:{port}"


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def measure(code: str, image: Path, workdir: Path) -> Run:
    mock, url = start_mock(workdir)
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", code, url, str(image), hex(OFFSET), str(BAUD)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        stop(mock)
    process_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        raise SystemExit(
            f"flashing run failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    result = json.loads(lines[-1][len(RESULT_PREFIX) :])
    return Run(process_cpu, float(result["flash_cpu"]), wall, bool(result["ok"]))


def summarise(name: str, runs: list[Run], mib: float) -> tuple[float, float]:
    process = statistics.median(r.process_cpu for r in runs) / mib
    flash = statistics.median(r.flash_cpu for r in runs) / mib
    wall = statistics.median(r.wall for r in runs)
    verified = all(r.ok for r in runs)
    print(
        f"{name:<22} process CPU {process:6.3f} s/MiB   flash CPU {flash:6.3f} s/MiB   "
        f"wall {wall:5.2f} s   verified {verified}"
    )
    return process, flash


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size-mib", type=float, default=1.0)
    args = parser.parse_args()
    size = int(args.size_mib * 1024 * 1024)
    with tempfile.TemporaryDirectory(prefix="flash-cpu-") as tmp:
        workdir = Path(tmp)
        image = workdir / "image.bin"
        image.write_bytes(random.Random(1).randbytes(size))  # incompressible: every byte goes over the wire
        station: list[Run] = []
        cli: list[Run] = []
        for _ in range(args.runs):  # interleaved, so a busy moment on the machine hits both alike
            station.append(measure(STATION_CODE, image, workdir))
            cli.append(measure(CLI_CODE, image, workdir))
    mib = size / (1024 * 1024)
    print(
        f"{args.size_mib:g} MiB image at {OFFSET:#x}, esp32-mock-bootloader, median of {args.runs} runs each"
    )
    station_process, station_flash = summarise("station (library)", station, mib)
    cli_process, cli_flash = summarise("esptool CLI", cli, mib)
    print(f"ratio station/CLI, flash CPU per MiB:   {station_flash / cli_flash:.3f}x   (goal <= 0.15x)")
    print(
        f"ratio station/CLI, process CPU per MiB: {station_process / cli_process:.3f}x   (incl. Python start)"
    )


if __name__ == "__main__":
    main()
