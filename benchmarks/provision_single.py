"""One board provisioned end to end at each paced flashing rate, against the line-rate bound.

What runs is what a station runs: the supervisor starts a real port worker, which detects, checks, flashes
(bootloader, partition table and a ~0.8 MiB IEF of incompressible data, so the flash is not trivially
small), boots and serves the IEF; the supervisor pushes the DeviceID and writes the record. The board is
a virtual ESP32-C3 with pacing on: every byte takes its time at the baud rate in force.

The bound is what the wire alone needs. The simulator counts the bytes each way; they are split into
three phases by the events the worker reports (up to the baud change: 115200; flashing: the rate
measured; boot and IEF exchange: 115200), each phase's bytes x 10 bits / its baud, plus the waits the
protocols impose
(esptool's and the station's reset pulses, the simulated EN RC delay before the board boots its flash,
the IEF's idle-line gap after each reply it reads), and the simulated time the board takes to join WiFi,
which the station now waits to see. Worker start-up, the station's own work and every
round trip's turnaround are not in the bound: they are the overhead measured.

    .venv/bin/python benchmarks/provision_single.py [--ief-kib 768] [--baud 460800 921600 1500000 2000000]

Measured 2026-12-02 on the shared 2-core machine, main then this code, one sitting each:
    at 25b4653: 460800 1.027x -> 1.028x; 921600 1.056x -> 1.054x; 1500000 1.071x -> 1.080x;
                2000000 1.091x -> 1.109x (another run of this code: 1.116x)
    at 587ad81: 460800 1.035x -> 1.032x; 921600 1.095x -> 1.068x; 1500000 1.094x -> 1.082x;
                2000000 1.108x -> 1.095x
    at 94f6eba (session 21, a quiet machine): 460800 1.020x; 921600 1.038x; 1500000 1.060x;
                2000000 1.074x (each open of a port no longer sleeps pyserial's 50 ms, and an answer
                wakes one thread of the worker instead of two)
A board alone is not CPU-bound: the ~0.6 s over the bound is about the same at every rate, the
turnaround of each esptool command and flash block (sim_wire_time.py: ~2.6 ms per 16 KiB block at
2 Mbaud), so at 2 Mbaud it sits on the 1.10x line.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keyring
from keyring.backends import fail

from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, IefKind, ImageKind, KeyType
from app.instance.local.instance import LocalInstance
from app.provisioning.events import Event, LogEvent, Outcome, Step, StepEvent, StepStatus
from app.provisioning.job import PortJob
from app.provisioning.job_builder import provisioning_job
from app.provisioning.records import RecordsDB
from app.provisioning.supervisor import PortSummary, Supervisor
from app.sim import images as sim_images
from app.sim.board import EN_RC_DELAY, VirtualBoard
from app.sim.fleet import SimFleet
from app.sim.ief import IefSettings

PASSPHRASE = "benchmark-only-passphrase"  # noqa: S105  (a throwaway instance in a temporary folder)
TASK = "bench"
ROM_BAUD = 115200
RATES = (460800, 921600, 1500000, 2000000)
IEF_REPLIES = 6  # root CA, endpoint, port, SSID, password, DeviceID acknowledgement
ESPTOOL_RESET_WAITS = 0.1 + 0.05  # esptool's classic reset holds EN, then IO0
STATION_RESET_PULSE = 0.1  # app.provisioning.board_reset.EN_LOW_SECONDS


def build_big_ief(size: int) -> bytes:
    """The simulation IEF plus one flash-mapped segment of random bytes (incompressible on the wire)."""
    from esptool.bin_image import ELFSection, LoadFirmwareImage

    chip = ChipType.ESP32C3
    base = sim_images.build_sim_ief(chip, IefKind.DEBUG)
    layout = sim_images._LAYOUTS[chip]
    with tempfile.NamedTemporaryFile(suffix=".bin", delete=False) as handle:
        handle.write(base)
    try:
        loaded = LoadFirmwareImage(chip.value, handle.name)
    finally:
        os.unlink(handle.name)
    image = sim_images._new_image(layout)
    image.entrypoint = layout.app_iram
    image.secure_pad = "2"
    image.segments = [ELFSection(b".seg", s.addr, s.data, flags=0) for s in loaded.segments]
    image.segments.append(ELFSection(b".flash.rodata", layout.app_drom + 0x10000, os.urandom(size), flags=0))
    return sim_images._save(image)


def prepare_instance(folder: Path, ief_kib: int) -> LocalInstance:
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]  # never a person's keyring
    instance = LocalInstance.open(
        folder / "instance.sqlite3", passphrase_prompt=lambda reason, new: PASSPHRASE
    )
    instance.create_signing_key("bench-key", KeyType.RSA_3072)
    instance.import_image(
        "bench-ief", ChipType.ESP32C3, ImageKind.IEF, "debug", build_big_ief(ief_kib * 1024)
    )
    instance.create_task(
        TASK, ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, "bench-key", ief_image="bench-ief"
    )
    instance.create_batch("bench")
    return instance


@dataclass
class PortTrace:
    """Byte counts of one board at the phase boundaries, and when each step started and ended."""

    board: VirtualBoard
    marks: dict[str, tuple[float, int]] = field(default_factory=dict)
    steps: dict[Step, list[float]] = field(default_factory=dict)

    def mark(self, name: str) -> None:
        uart = self.board.uart
        self.marks.setdefault(name, (time.monotonic(), uart.rx_bytes + uart.tx_bytes))


class Tracer:
    def __init__(self, boards: dict[str, VirtualBoard]) -> None:
        self.traces = {url: PortTrace(board) for url, board in boards.items()}
        self.summaries: list[PortSummary] = []
        self._lock = threading.Lock()

    def on_event(self, event: Event) -> None:
        trace = self.traces.get(event.port)
        if trace is None:
            return
        if isinstance(event, LogEvent) and event.text == "Changed.":
            trace.mark("fast")
        elif isinstance(event, StepEvent):
            trace.steps.setdefault(event.step, []).append(event.mono)
            if event.step is Step.FLASH and event.status is StepStatus.PASSED:
                trace.mark("flashed")

    def on_finished(self, summary: PortSummary) -> None:
        self.traces[summary.port].mark("end")
        with self._lock:
            self.summaries.append(summary)


def run_boards(
    instance: LocalInstance, folder: Path, count: int, label: str, baud: int = 921600
) -> tuple[float, Tracer, PortJob]:
    """Provision `count` paced boards at once; wall time from the first start to the last record written
    (the moment the station reports the last board done; worker processes exit a moment later)."""
    with (
        SimFleet(folder / label, count=count, pacing=True) as fleet,
        RecordsDB(folder / f"{label}.sqlite3") as rec,
    ):
        ap = fleet.access_point
        job = provisioning_job(
            instance, task=TASK, batch="bench", ssid=ap.ssid, password=ap.password, baud=baud
        )
        tracer = Tracer(dict(zip(fleet.urls, fleet.boards, strict=True)))
        supervisor = Supervisor(instance, rec, tracer)
        try:
            started = time.monotonic()
            for url in fleet.urls:
                tracer.traces[url].mark("start")
                supervisor.start(job.for_port(url))
            supervisor.wait()
            wall = max(trace.marks["end"][0] for trace in tracer.traces.values()) - started
        finally:
            supervisor.close()
    failed = [s for s in tracer.summaries if s.outcome is not Outcome.PASS]
    if failed:
        raise SystemExit(f"{len(failed)} board(s) failed, e.g. {failed[0].port}: {failed[0].message}")
    return wall, tracer, job


def line_bound(trace: PortTrace, baud: int) -> dict[str, float]:
    start, fast, flashed, end = (trace.marks[k][1] for k in ("start", "fast", "flashed", "end"))
    slow_before = (fast - start) * 10 / ROM_BAUD
    flash = (flashed - fast) * 10 / baud
    slow_after = (end - flashed) * 10 / ROM_BAUD
    # Counted once: the RC delay before the flash boot (the download-mode entry uses a shorter strap
    # settle), so the bound errs low and the ratio high.
    ief = IefSettings()
    waits = ESPTOOL_RESET_WAITS + STATION_RESET_PULSE + EN_RC_DELAY + IEF_REPLIES * ief.reply_gap
    waits += ief.join_delay  # one attempt: the board's own time to join, watched by the station
    return {
        "detect+stub @115200": slow_before,
        f"flash @{baud}": flash,
        "boot+IEF @115200": slow_after,
        "reset/idle/join waits": waits,
        "total": slow_before + flash + slow_after + waits,
    }


def step_times(trace: PortTrace) -> dict[str, float]:
    out = {}
    for step in (Step.DETECT, Step.CHECK, Step.FLASH, Step.BOOT, Step.IEF, Step.PUSH):
        stamps = trace.steps.get(step, [])
        if len(stamps) >= 2:
            out[step.value] = stamps[-1] - stamps[0]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ief-kib", type=int, default=768, help="random payload added to the IEF (KiB)")
    parser.add_argument("--baud", type=int, nargs="+", default=list(RATES), help="flashing rates to measure")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="ql-bench-") as tmp:
        folder = Path(tmp)
        instance = prepare_instance(folder, args.ief_kib)
        try:
            for baud in args.baud:
                wall, tracer, job = run_boards(instance, folder, 1, f"single-{baud}", baud)
                (trace,) = tracer.traces.values()
                results.append((baud, wall, line_bound(trace, baud), step_times(trace)))
        finally:
            instance.close()
    sizes = ", ".join(f"{i.kind.value} {len(i.data) // 1024} KiB" for i in job.images)
    print(f"one paced virtual ESP32-C3; images: {sizes}")
    print(f"image SHA-256 (IEF): {hashlib.sha256(job.images[2].data).hexdigest()[:16]}...")
    for baud, _wall, bound, steps in results:
        print(f"\nflashing at {baud} baud; line-rate bound by phase:")
        for name, seconds in bound.items():
            print(f"  {name:<22} {seconds:7.2f} s")
        print("measured step times:")
        for name, seconds in steps.items():
            print(f"  {name:<22} {seconds:7.2f} s")
    print("\nrate      wall     bound    ratio (goal <= 1.10x)")
    for baud, wall, bound, _steps in results:
        print(f"{baud:<8} {wall:6.2f} s {bound['total']:6.2f} s  {wall / bound['total']:.3f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
