"""GUI event-loop stalls while virtual boards provision from the Station page of the real window.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/gui_stalls.py [--boards 16 1] [--no-pacing]
                                                                      [--profile]

For each board count: a fresh data folder and local instance (the demo key and batch; a task that does
not wait for enrolment, since no enrolment server runs here), the virtual boards in a SUBPROCESS
(`ql-station sim`, pacing on: bytes at the flashing baud, as real boards), the real main window
(offscreen) on its Station page, and two presses of "Provision N boards" on the same boards. The first
press builds the job (the instance signs the task's images); the second reuses it, as a production line
does all day. A 5 ms precise QTimer on the GUI thread is the heartbeat: each gap beyond its interval is
a stall the person would feel. Printed per press: p50 / p99 / max stall, the wall time from the click to
the last result, and the CPU the station process used (GUI thread, station thread, supervisor reader
threads; port workers and the simulator are other processes). Goals: p99 <= 16 ms and max <= 50 ms.
Beside each press, the same figures from a control process (a bare 5 ms sleep loop, no GUI) running at
the same time: on a shared machine, a stall the control shares is the machine's, not the station's.

`--detail` prints when the worst stalls happened and where each went: the GUI thread's own CPU time,
the time it waited runnable for a CPU (Linux schedstat), and the rest, when it was blocked (the GIL, a
lock). "less run-queue waits" is each stall minus the time the machine gave the CPU to others.
`--profile` runs cProfile on the GUI thread.

Measured 2026-12-02, 64 boards, pacing on, on the shared 2-core machine (load average 6-40 from the
other sessions), before/after alternating in one sitting:
- before: p99 45-200 ms, max 170-1080 ms per press (the control process alone: p99 15-45, max 45-230).
  The worst stalls were 5-35 ms of the GUI thread's own CPU and 50-250 ms waiting, runnable, for a CPU.
  Each port worker ran in a session of its own; with Linux autogroup scheduling every session is a
  group weighed like the window's whole session, so nice 10 on a worker ordered nothing against the
  window: eight busy workers left it one share in nine.
- after (the window's workers stay in the fork server's session, and that group is niced once,
  app/system/session_priority.py; the CLI's keep a session each): p99 5-9 ms, max 23-34 ms in four
  presses out of four (goals met; later runs: p99 6-9, max 25-86);
  wall per press 5.4-8.1 s against 3.3-6.3 s before on this loaded machine, where the workers' group
  now yields to the other sessions too (on a line PC the station is the load, and they get the CPU).
The GUI thread itself used 0.25-0.47 s of CPU per press. Also cut: a QCursor built per tile snapshot and
a PortLines per snapshot (~45% of `show_snapshot`'s Python time in the profile).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import itertools
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from PySide6.QtCore import (  # noqa: E402
    QCoreApplication,
    QElapsedTimer,
    QEventLoop,
    QSettings,
    Qt,
    QThreadPool,
    QTimer,
)
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.domain.chips import ChipType  # noqa: E402
from app.domain.kinds import BootloaderKind, IefKind  # noqa: E402
from app.domain.run_options import TaskRunOptions  # noqa: E402
from app.instance.local.instance import LocalInstance  # noqa: E402
from app.provisioning.run_request import RunRequest  # noqa: E402
from app.system.keyring_store import KeyringStore  # noqa: E402
from app.system.paths import DataDir  # noqa: E402
from app.ui.application import station_log  # noqa: E402
from app.ui.demo import DEMO_BATCH, DEMO_KEY, ensure_demo_data  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402
from app.ui.pages.context import PageContext  # noqa: E402
from app.ui.pages.station import StationPage  # noqa: E402
from app.ui.settings import StationSettings  # noqa: E402
from app.ui.style import apply_theme  # noqa: E402
from app.ui.window_sessions import shut_down  # noqa: E402
from app.workers.demo_simulator import DemoSimulator  # noqa: E402

HEARTBEAT_MS = 5
LINE_TASK = "bench-line"
NO_ENROL_WAIT = TaskRunOptions(enrol_wait_s=0)
GOAL_P99_MS = 16.0
GOAL_MAX_MS = 50.0
PASSPHRASE = "benchmark-passphrase"  # noqa: S105 - protects a throwaway instance in a temp folder


class NoKeyring(KeyringStore):
    """The benchmark's instance keys are protected by a passphrase, never the person's OS keyring."""

    def available(self) -> bool:
        return False


def pump_until(app: QApplication, done: Callable[[], bool], timeout: float) -> None:
    """Run the real event loop (not a processEvents loop, which would add its own gaps) until `done`."""
    if done():
        return
    loop = QEventLoop()
    check = QTimer()
    check.setInterval(20)
    check.timeout.connect(lambda: loop.quit() if done() else None)
    check.start()
    QTimer.singleShot(int(timeout * 1000), loop.quit)
    loop.exec()
    check.stop()
    if not done():
        raise TimeoutError("the run did not finish in time")


def run_delay_ms() -> float:
    """Time this thread spent runnable but not running (waiting for a CPU), from Linux's schedstat."""
    try:
        with open("/proc/thread-self/schedstat") as stat:
            return int(stat.read().split()[1]) / 1e6
    except OSError:
        return 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


CONTROL = """
import sys, threading, time
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
gaps, last = [], time.perf_counter()
while not stop.is_set():
    time.sleep(0.005)
    now = time.perf_counter()
    gaps.append((now - last) * 1000 - 5)
    last = now
gaps.sort()
print(gaps[len(gaps) // 2], gaps[round(0.99 * (len(gaps) - 1))], gaps[-1])
"""


class Control:
    """A 5 ms sleep loop in a separate, idle process: the stalls this machine causes by itself.

    On a shared 2-core machine other processes take the CPU now and then; a stall the control sees
    too is the machine's, not the station's.
    """

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", CONTROL], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def finish(self) -> tuple[float, float, float]:
        out, _ = self.process.communicate("", timeout=30)
        p50, p99, worst = (float(x) for x in out.split())
        return p50, p99, worst


class GcWatch:
    """How long Python's cyclic garbage collector stopped every thread of this process (it holds the GIL)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], (time.perf_counter() - self._started) * 1000))

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_exc: object) -> None:
        gc.callbacks.remove(self)

    def summary(self) -> str:
        if not self.pauses:
            return "no collections"
        worst = max(self.pauses, key=lambda p: p[1])
        return f"{len(self.pauses)} collections, longest {worst[1]:.1f} ms (generation {worst[0]})"


class Round:
    """One press of Provision: heartbeat gaps, wall time and this process's CPU until every result."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.beats: list[float] = []
        self.busy: list[float] = []  # the GUI thread's own CPU time at each beat, ms
        self.queued: list[float] = []  # ms the GUI thread waited, runnable, for a CPU (Linux schedstat)
        self.wall = self.cpu = 0.0
        self.outcomes: list[str] = []
        self.failures: list[str] = []
        self.control = (0.0, 0.0, 0.0)
        self.gc = GcWatch()

    def run(self, app: QApplication, station: StationPage, boards: int, profile: bool) -> Round:
        control = Control()
        clock = QElapsedTimer()
        heartbeat = QTimer()
        heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
        heartbeat.setInterval(HEARTBEAT_MS)
        heartbeat.timeout.connect(self._beat(clock))
        profiler = cProfile.Profile() if profile else None
        done_before = len(station.results)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        clock.start()
        self.gc.__enter__()
        heartbeat.start()
        if profiler is not None:
            profiler.enable()
        station.start_button.click()
        try:
            pump_until(app, lambda: len(station.results) >= done_before + boards, max(120, 4 * boards))
        except TimeoutError:
            states = {t.title.text(): (t.state.value, t.step.text()) for t in station.grid.ordered()}
            raise TimeoutError(f"{self.label}: not all boards finished: {states}") from None
        self.wall = time.perf_counter() - wall0
        if profiler is not None:
            profiler.disable()
        heartbeat.stop()
        self.gc.__exit__()
        self.control = control.finish()
        self.cpu = time.process_time() - cpu0
        self.outcomes = [r.outcome.value for r in station.results[done_before:]]
        self.failures = sorted(
            {r.message for r in station.results[done_before:] if r.outcome.value != "pass"}
        )
        if profiler is not None:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
        return self

    def _beat(self, clock: QElapsedTimer) -> Callable[[], None]:
        def beat() -> None:
            self.beats.append(clock.nsecsElapsed() / 1e6)
            self.busy.append(time.thread_time() * 1000)
            self.queued.append(run_delay_ms())

        return beat

    @property
    def stalls(self) -> list[float]:
        return [max(0.0, b - a - HEARTBEAT_MS) for a, b in itertools.pairwise(self.beats)]

    @property
    def own_stalls(self) -> list[float]:
        """Each stall less the time the GUI thread waited, runnable, for a CPU the machine gave others."""
        waits = [b - a for a, b in itertools.pairwise(self.queued)]
        return [max(0.0, stall - wait) for stall, wait in zip(self.stalls, waits, strict=True)]

    @property
    def gui_cpu(self) -> float:
        return (self.busy[-1] - self.busy[0]) / 1000 if self.busy else 0.0

    def worst(self, count: int = 5) -> str:
        stalls = self.stalls
        worst = sorted(range(len(stalls)), key=stalls.__getitem__, reverse=True)[:count]
        return ", ".join(
            f"{self.beats[i]:.0f}: {stalls[i]:.1f} (CPU {self.busy[i + 1] - self.busy[i]:.0f}, "
            f"run queue {self.queued[i + 1] - self.queued[i]:.0f})"
            for i in worst
        )


def run_case(app: QApplication, boards: int, pacing: bool, profile: bool) -> list[Round]:
    """Two presses on the same boards: the first builds the job (the instance signs the images), the
    second reuses it — the steady state of a production line."""
    with tempfile.TemporaryDirectory(prefix="ql-gui-stalls-") as folder:
        root = Path(folder)
        data = DataDir(root / "station").ensure()
        settings = StationSettings(QSettings(str(root / "settings.ini"), QSettings.Format.IniFormat))
        log_model, relay = station_log()
        instance = LocalInstance.open(
            data.local_instance_db, passphrase_prompt=lambda _r, _n: PASSPHRASE, keyring=NoKeyring()
        )
        ensure_demo_data(instance)
        # The line without the enrolment server (this window does not start one): the boards pass once
        # their DeviceID is in the batch, as before PASS meant "enrolled".
        instance.create_task(
            LINE_TASK,
            ChipType.ESP32C3,
            BootloaderKind.DEV,
            IefKind.DEBUG,
            DEMO_KEY,
            run_options=NO_ENROL_WAIT,
        )
        simulator = DemoSimulator(data.root, boards=boards, pacing=pacing)
        windows: list[MainWindow] = []
        try:
            urls = simulator.start()
            network = simulator.network
            assert network is not None
            context = PageContext(instance, instance.info(), settings, NoKeyring(), log_model, data.root)
            window = MainWindow(context)
            windows.append(window)
            window.resize(*((1920, 1080) if boards > 16 else (1280, 800)))  # 64 ports fit 1920x1080
            window.show()
            window.show_page("Station")
            station = window.page("Station")
            assert isinstance(station, StationPage)
            pump_until(app, lambda: set(urls) <= set(station.port_list.checked()), 30)
            station.accept_provisioning_request(
                RunRequest(LINE_TASK, DEMO_BATCH, network.ssid, network.password)
            )
            pump_until(app, lambda: QThreadPool.globalInstance().activeThreadCount() == 0, 30)
            first = Round("first press (builds the job)").run(app, station, boards, profile)
            pump_until(app, lambda: QThreadPool.globalInstance().activeThreadCount() == 0, 30)
            again = Round("second press (job reused)").run(app, station, boards, profile)
        finally:
            if windows:
                shut_down(app, windows, relay)
            else:
                relay.detach()
                instance.close()
            simulator.stop()
            QCoreApplication.processEvents()
    return [first, again]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", type=int, nargs="+", default=[16, 1])
    parser.add_argument("--no-pacing", action="store_true", help="simulated boards answer at once")
    parser.add_argument("--profile", action="store_true", help="cProfile the GUI thread during each run")
    parser.add_argument("--detail", action="store_true", help="print when the worst stalls happened")
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    apply_theme(app, "light")
    print(
        f"GUI event-loop stalls: {HEARTBEAT_MS} ms heartbeat, stall = gap - interval; "
        f"simulator in a subprocess, pacing {'off' if args.no_pacing else 'on'}; {os.cpu_count()} CPUs"
    )
    columns = ("boards", "passed", "p50 ms", "p99 ms", "max ms", "wall s", "CPU s")
    print(" ".join(f"{c:>7}" for c in columns), f"  goals p99<={GOAL_P99_MS:g} ms, max<={GOAL_MAX_MS:g} ms")
    ok = True
    for boards in args.boards:
        for r in run_case(app, boards, not args.no_pacing, args.profile):
            stalls = r.stalls
            p99, worst = percentile(stalls, 0.99), max(stalls)
            met = p99 <= GOAL_P99_MS and worst <= GOAL_MAX_MS
            ok = ok and met and r.outcomes.count("pass") == boards
            figures = (statistics.median(stalls), p99, worst, r.wall, r.cpu)
            print(
                f"{boards:>7} {r.outcomes.count('pass'):>7} " + " ".join(f"{f:>7.2f}" for f in figures),
                f"  {'met' if met else 'MISSED'}: {r.label}",
                flush=True,
            )
            for message in r.failures[:3]:
                print(f"{'':>15} not passed: {message}")
            c50, c99, cmax = r.control
            print(f"{'':>15} control process (no GUI): {c50:>7.2f} {c99:>7.2f} {cmax:>7.2f}")
            own = r.own_stalls
            print(
                f"{'':>15} less run-queue waits:      {statistics.median(own):>7.2f} "
                f"{percentile(own, 0.99):>7.2f} {max(own):>7.2f}   GUI thread CPU {r.gui_cpu:.2f} s"
            )
            if args.detail:
                print(
                    f"{'':>15} worst stalls, ms after the click: stall ms (GUI thread's CPU ms, ms it waited"
                )
                print(f"{'':>15} runnable for a CPU; the rest it was blocked: GIL, a lock): {r.worst()}")
                print(f"{'':>15} garbage collector: {r.gc.summary()}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
