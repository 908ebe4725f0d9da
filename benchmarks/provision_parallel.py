"""64 boards provisioned at once against 1 board alone: wall time, on this (2-core) machine.

The same station code as production: one supervisor in this process, one port-worker process per board,
the instance and the records here. The virtual boards run in their own process (`ql-station sim`), as
they would beside a real station, with pacing on, so each board's bytes take their time at 921600 baud.
Every board gets the same task: bootloader, partition table and a ~0.8 MiB IEF of incompressible data
(see provision_single.py). Wall time runs from the first worker start to the last record written.

CPU seconds are reported too (this process: supervisor and instance; the workers; the simulator), since
on 2 cores the question is whether 64 workers' CPU fits in the time the wire takes anyway.

Workers are started the way the station starts them (app/provisioning/worker_launch.py): on Linux, forked
from a warm fork server that has imported esptool once; `--launcher command` starts a fresh interpreter
per board instead (each imports esptool, ~0.25 CPU-s), to compare. The station starts its fork server
when the Station page opens, so both runs here use one that is already warm; its cold start (the one
import) is printed on its own.

    .venv/bin/python benchmarks/provision_parallel.py [--boards 64] [--ief-kib 768] [--sim-processes 1]
        [--launcher fork-server|command]

The simulator stands in for hardware: one Python process paces every board's bytes under one GIL, so
with 64 boards its own scheduling can stretch the wire. `--sim-processes K` spreads the boards over K
simulator processes, to tell the station's cost from the simulator's.

Measured 2026-12-02 on the shared 2-core machine (load average 3-15 from other work), 64 boards,
alternating main and this code in one sitting (1 board: 10.8-10.9 s in every run):
    at 25b4653:  wall ratio 1.31x, 1.36x -> 1.30x, 1.30x
        CPU per board: workers 136-142 -> 114-117 ms, simulator 63-72 -> 59 ms, station 14-17 -> 14 ms
    at 587ad81:  wall ratio 1.39x, 1.43x -> 1.37x, 1.31x
        CPU per board: workers 169-175 -> 127-141 ms, simulator 83-88 -> 64-73 ms, station 17-20 -> 14-16 ms
The CPU went down by the per-byte work removed from the RFC 2217 paths (worker's client, simulator's
server and UART, SLIP), esptool's block checksum and the station's event parsing; the wall ratio moved
little: the ~3 s over the one-board run is turnaround on ~140 esptool round trips per board under a
loaded scheduler more than CPU (--sim-processes 4 gave 1.28x against 1.33x in one sitting).

The table after the figures gives each step's median time alone and among 64, and that of the board that
finished last (the wall time is its), with "(launch)", from the start to a port's first event: where the
extra seconds go. The boards are started as `provision --ports` starts them (Supervisor.start_all).

Measured 2026-12-02 (session 21) on a freshly booted machine (load average 0.2 before the first run;
these runs alone), 64 boards:
    at 43c29dd:  wall ratio 1.60x, 1.61x, 1.62x (an earlier commit, run the same hour: 1.62x)
        CPU per board: workers 230-260 ms, simulator 95-110 ms, station 25-30 ms
    at 63a049c:  wall ratio 1.36x, 1.37x, 1.41x
        CPU per board: workers 145-160 ms, simulator 85-95 ms, station 19-20 ms
    at 18efa66:  wall ratio 1.22x, 1.22x, 1.23x, 1.24x (32 boards: 1.09x)
        CPU per board: workers 95-106 ms, simulator 64-67 ms, station 14 ms
    at 94f6eba:  wall ratio 1.16x, 1.18x, 1.18x, 1.19x, 1.19x, 1.21x
        CPU per board: workers 95-110 ms, simulator 59-67 ms, station 13-16 ms
    at da2aeb1 (kernel receive times, inline answers, one MD5 for erased flash):
                 wall ratio 1.15x, 1.18x, 1.20x
        steps, 1 -> 64 boards: launch 0.03 -> 0.23-0.27 s, detect 0.22 -> 0.43-0.74, check 0.01 ->
        0.09-0.19, flash 9.44 -> 9.84-10.31, boot 0.49 -> 0.61-0.68, ief 0.46 -> 0.48
The same code measured twice the worker CPU here that it had in the earlier sitting above (another
machine, or another day of the shared one), so compare only figures of one sitting. What moved it: the
fork server imports what a worker's first rfc2217:// open imported (~20 ms a worker); event lines are
checked for secrets in one search; jobs name their images' files (and the station's zlib streams of them)
instead of carrying a megabyte of base64; fork requests go in batches; pyserial's open polls each
millisecond; our RFC 2217 client reads the socket in the reading thread once open; comparing an image
with erased flash takes one MD5; and the simulator stopped syncing its flash files under the GIL, sends
every board's output from one clock thread (boot: +1.0 s -> +0.05 s), answers commands from the board's
own thread, times the host's bytes from the kernel's receive timestamp and no longer wakes a board for
bytes it is not waiting for.

Measured 2026-12-02 (session 22), 64 boards, the session's first commit and this code run alternately
in one sitting (1 board: 10.6 s in every run):
    at ce64186:  wall 12.78, 13.33, 13.28 s (1.20x, 1.25x, 1.25x); workers 6.8-7.3 CPU-s
    at this code: wall 12.68, 12.24, 12.49 s (1.19x, 1.15x, 1.18x); workers 6.3-6.8 CPU-s
What moved it: the RFC 2217 client waits on its socket instead of polling it each millisecond (no
reader thread either; worker CPU in the detect step 30 -> 11 ms a board), and eFuse words are read from
the chip once per connection (124 -> 101 commands a board). With the boards spread over two simulator
processes (--sim-processes 2) the same code gives 1.14-1.16x against 1.17-1.21x with one.

Where the rest goes. Sampling the processes' CPU every 100 ms shows three phases: the first ~2.5 s
(start-up, detect, check, stub upload, the first blocks) and the last ~2 s (boot, IEF, push) keep both
CPUs busy; in between, the data phase uses 30-40% of them, and each 16 KiB block takes 0.181 s as it
does alone. In the busy phases every board needs ~70 ms of CPU (its worker ~38 ms, the simulator ~22
ms, the station ~8 ms), spread over ~60 round trips that cost ~0.1 ms of worker CPU each and the
simulator's threads more: 64 boards' worth is ~2.3 s of two CPUs against ~1.2 s for one board alone. The
boards also move in step: started together, they detect together, upload their stubs together (leaving
the CPUs idle for ~0.3 s) and finish together. Started 8-15 ms apart (as the window starts them), each
board takes 11.2-11.9 s (1.06-1.12x) but the last starts up to a second later; started at once, with
every worker forked first, the last is no longer late (its launch 1.0 -> 0.3 s) yet the wall time is
no better (1.20-1.22x), since all 64 then wait for the CPUs at the same moments.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from provision_single import TASK, prepare_instance

from app.instance.local.instance import LocalInstance
from app.provisioning.events import Event, Outcome, Step, StepEvent, StepStatus
from app.provisioning.job_builder import provisioning_job
from app.provisioning.records import RecordsDB
from app.provisioning.supervisor import PortSummary, Supervisor
from app.provisioning.worker_launch import (
    CommandLauncher,
    ForkServerLauncher,
    WorkerLauncher,
    fork_server_supported,
    worker_environment,
)

CPU_KEYS = ("station_cpu", "workers_cpu", "sim_cpu")


def process_cpu_seconds(pid: int | None, reaped_children: bool = False) -> float:
    """User + system CPU of process `pid` from /proc, or of the children it has reaped (Linux)."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    first = 13 if reaped_children else 11  # cutime, cstime / utime, stime
    return (int(fields[first]) + int(fields[first + 1])) / os.sysconf("SC_CLK_TCK")


def forked_workers_cpu(launcher: WorkerLauncher) -> float:
    """Forked workers are the fork server's children: their CPU is counted there once it reaps them."""
    pid = launcher.server_pid if isinstance(launcher, ForkServerLauncher) else None
    return process_cpu_seconds(pid, reaped_children=True)


class Finishes:
    """Each board's summary, and how long each of its steps took (from the workers' step events)."""

    def __init__(self) -> None:
        self.summaries: list[PortSummary] = []
        self.last = 0.0
        self._began: dict[tuple[str, Step], float] = {}
        self.step_seconds: dict[Step, list[float]] = {}
        self.port_steps: dict[str, dict[str, float]] = {}
        self.launched: dict[str, float] = {}
        self.first_event: dict[str, float] = {}
        self.last_step: dict[str, float] = {}
        self.finished: dict[str, float] = {}

    def on_event(self, event: Event) -> None:
        self.first_event.setdefault(event.port, time.monotonic())
        if not isinstance(event, StepEvent):
            return
        self.last_step[event.port] = time.monotonic()
        key = (event.port, event.step)
        if event.status is StepStatus.STARTED:
            self._began[key] = event.mono
        elif key in self._began:
            took = event.mono - self._began.pop(key)
            self.step_seconds.setdefault(event.step, []).append(took)
            self.port_steps.setdefault(event.port, {})[event.step.value] = took

    def on_finished(self, summary: PortSummary) -> None:
        self.summaries.append(summary)
        self.last = time.monotonic()
        self.finished[summary.port] = self.last


class Simulator:
    """`ql-station sim --boards N` in its own process; its URLs read from its stdout."""

    def __init__(self, folder: Path, count: int, ssid: str, password: str) -> None:
        self.ssid = ssid
        self.password = password
        folder.mkdir()
        secret = folder / "ap-password"
        secret.write_text(self.password, encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "app",
            "--data-dir",
            str(folder / "data"),
            "sim",
            "--boards",
            str(count),
        ]
        command += [
            "--state-dir",
            str(folder / "boards"),
            "--ap-ssid",
            self.ssid,
            "--ap-password-file",
            str(secret),
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=worker_environment()
        )
        assert self.process.stdout is not None
        self.urls = [self.process.stdout.readline().decode().strip() for _ in range(count)]
        if not all(url.startswith("rfc2217://") for url in self.urls):
            self.stop()
            raise SystemExit(f"the simulator did not start: {self.urls}")

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Simulators:
    """The boards spread over `processes` simulator processes, all on one simulated access point."""

    def __init__(self, folder: Path, count: int, processes: int) -> None:
        self.ssid = f"bench-{secrets.token_hex(2)}"
        self.password = secrets.token_urlsafe(12)
        shares = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
        self.group: list[Simulator] = []
        try:
            for index, share in enumerate(s for s in shares if s):
                self.group.append(Simulator(folder / f"sim{index}", share, self.ssid, self.password))
        except BaseException:
            self.stop()
            raise
        self.urls = [url for sim in self.group for url in sim.urls]

    def cpu_seconds(self) -> float:
        return sum(sim.cpu_seconds() for sim in self.group)

    def stop(self) -> None:
        for sim in self.group:
            sim.stop()


def run(
    instance: LocalInstance, folder: Path, count: int, sim_processes: int, launcher: WorkerLauncher
) -> dict[str, Any]:
    folder.mkdir()
    sim = Simulators(folder, count, sim_processes)
    try:
        job = provisioning_job(instance, task=TASK, batch="bench", ssid=sim.ssid, password=sim.password)
        finishes = Finishes()
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        own_before = time.process_time()
        sim_before = sim.cpu_seconds()
        forked_before = forked_workers_cpu(launcher)
        with RecordsDB(folder / "records.sqlite3") as records:
            supervisor = Supervisor(instance, records, finishes, launcher=launcher)
            try:
                started = time.monotonic()
                finishes.launched.update((url, started) for url in sim.urls)
                supervisor.start_all([job.for_port(url) for url in sim.urls])  # as `provision --ports` does
                supervisor.wait()
            finally:
                supervisor.close()
        sim_total = sim.cpu_seconds()  # its whole life: reaped below with the children, startup included
        sim_cpu = sim_total - sim_before
        forked_cpu = forked_workers_cpu(launcher) - forked_before
    finally:
        sim.stop()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    failed = [s for s in finishes.summaries if s.outcome is not Outcome.PASS]
    if failed or len(finishes.summaries) != count:
        example = f"{failed[0].port}: {failed[0].message}" if failed else "missing summaries"
        raise SystemExit(f"{len(failed)} of {count} board(s) failed, e.g. {example}")
    durations = sorted(s.duration_s for s in finishes.summaries)
    steps = {step.value: statistics.median(times) for step, times in finishes.step_seconds.items()}
    ports = finishes.launched
    steps["(launch)"] = statistics.median(finishes.first_event[p] - started for p in ports)
    steps["(tail)"] = statistics.median(finishes.finished[p] - finishes.last_step[p] for p in ports)
    last = max(ports, key=lambda p: finishes.finished[p])
    last_steps = dict(finishes.port_steps.get(last, {}))
    last_steps["(launch)"] = finishes.first_event[last] - started
    last_steps["(tail)"] = finishes.finished[last] - finishes.last_step[last]
    return {
        "steps": steps,
        "last_steps": last_steps,
        "wall": finishes.last - started,
        "board_min": durations[0],
        "board_max": durations[-1],
        "station_cpu": time.process_time() - own_before,
        "workers_cpu": (children.ru_utime + children.ru_stime)
        - (children_before.ru_utime + children_before.ru_stime)
        - sim_total
        + forked_cpu,
        "sim_cpu": sim_cpu,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", type=int, default=64)
    parser.add_argument("--ief-kib", type=int, default=768)
    parser.add_argument(
        "--sim-processes", type=int, default=1, help="simulator processes the boards are spread over"
    )
    parser.add_argument(
        "--launcher",
        choices=("fork-server", "command"),
        default="fork-server" if fork_server_supported() else "command",
        help="how workers start: forked from a warm server (the station's default on Linux) or fresh",
    )
    args = parser.parse_args()
    if not 1 <= args.sim_processes <= args.boards:
        parser.error("--sim-processes must be between 1 and --boards")
    with tempfile.TemporaryDirectory(prefix="ql-bench-") as tmp:
        folder = Path(tmp)
        instance = prepare_instance(folder, args.ief_kib)
        launcher: WorkerLauncher
        cold = ""
        if args.launcher == "fork-server":
            launcher = ForkServerLauncher()
            began = time.monotonic()
            launcher.wait_ready(60)
            cold = f" (its cold start, once per station: {time.monotonic() - began:.2f} s)"
        else:
            launcher = CommandLauncher()
        try:
            one = run(instance, folder / "one", 1, 1, launcher)
            many = run(instance, folder / "many", args.boards, args.sim_processes, launcher)
        finally:
            launcher.close()
            instance.close()
    print(
        f"{os.cpu_count()} CPU(s); paced virtual ESP32-C3 boards in {args.sim_processes} simulator "
        f"process(es) beside the station; workers started by: {args.launcher}{cold}\n"
    )
    headers = ("boards", "wall s", "per board s", "station CPU", "workers CPU", "sim CPU")
    print("".join(f"{h:>13}" for h in headers))
    for count, r in ((1, one), (args.boards, many)):
        spread = f"{r['board_min']:.1f}-{r['board_max']:.1f}"
        cells = (str(count), f"{r['wall']:.2f}", spread, *(f"{r[k]:.1f} s" for k in CPU_KEYS))
        print("".join(f"{c:>13}" for c in cells))
    print(f"\nseconds per step (1 board -> median of {args.boards} boards; the board that finished last):")
    for name, alone in one["steps"].items():
        crowded = many["steps"].get(name, float("nan"))
        last = many["last_steps"].get(name, float("nan"))
        print(f"{name:>13} {alone:8.2f} -> {crowded:6.2f}  (+{crowded - alone:.2f});  last {last:6.2f}")
    ratio = many["wall"] / one["wall"]
    print(f"\n{args.boards} boards vs 1 board, wall time: {ratio:.2f}x (goal <= 1.10x)")
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.1f} (1 min), {load[2]:.1f} (15 min), other work included")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
