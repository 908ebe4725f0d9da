"""Re-provisioning an unchanged IEF against a first flash: one paced board, the same task twice.

What runs is what a station runs (supervisor, real port worker, local instance, records), against one
virtual ESP32-C3 (dev / veFuse build) with pacing on at 921600 baud for the flash. The first run
flashes a blank board; the second provisions the same board with the same task, so the flash step
compares per-sector MD5s (app/flashing/flash_diff.py) and writes only the sectors that differ.
Printed: the flash step's wall time each time (connect is in `detect`; the flash step is stub upload,
baud change, compare, write, verify), the whole run's wall time, the sectors the board erased, and the
ratio re-flash / first flash (goal <= 0.3). The bootloader's and the IEF's last sectors are written
again each time: the task signs them when the job is built, and an RSA-PSS signature differs each time.

    .venv/bin/python benchmarks/reprovision.py [--ief-kib 768]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from provision_single import TASK, Tracer, prepare_instance, step_times

from app.domain.chips import ChipType
from app.instance.local.instance import LocalInstance
from app.provisioning.events import Event, LogEvent, Outcome, Step, StepEvent, StepStatus
from app.provisioning.job_builder import provisioning_job
from app.provisioning.records import RecordsDB
from app.provisioning.supervisor import Supervisor
from app.sim.fleet import SimFleet


class FlashWear(Tracer):
    """Also notes the sectors the board erased during the flash step alone (the IEF keeps its own
    settings in flash too, which is not the flash step's doing)."""

    def __init__(self, url: str, fleet: SimFleet) -> None:
        super().__init__({url: fleet.boards[0]})
        self._flash = fleet.boards[0].state.flash
        self.at_start = self.at_end = 0

    def on_event(self, event: Event) -> None:
        super().on_event(event)
        if isinstance(event, LogEvent) and ("differ" in event.text or "already in flash" in event.text):
            print("   ", event.text)
        if isinstance(event, StepEvent) and event.step is Step.FLASH:
            if event.status is StepStatus.STARTED:
                self.at_start = self._flash.sectors_erased
            elif event.status is StepStatus.PASSED:
                self.at_end = self._flash.sectors_erased


def provision_once(
    instance: LocalInstance, fleet: SimFleet, records: RecordsDB, label: str
) -> tuple[float, float, int]:
    """One provisioning of the board: (run wall, flash step wall, sectors erased by the flash step)."""
    url = fleet.urls[0]
    ap = fleet.access_point
    job = provisioning_job(instance, task=TASK, batch="bench", ssid=ap.ssid, password=ap.password)
    tracer = FlashWear(url, fleet)
    supervisor = Supervisor(instance, records, tracer)
    try:
        started = time.monotonic()
        tracer.traces[url].mark("start")
        supervisor.start(job.for_port(url))
        supervisor.wait()
        wall = tracer.traces[url].marks["end"][0] - started
    finally:
        supervisor.close()
    (summary,) = tracer.summaries
    if summary.outcome is not Outcome.PASS:
        raise SystemExit(f"{label}: the board failed: {summary.message}")
    flash = step_times(tracer.traces[url])["flash"]
    return wall, flash, tracer.at_end - tracer.at_start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ief-kib", type=int, default=768, help="random payload added to the IEF (KiB)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ql-bench-") as tmp:
        folder = Path(tmp)
        instance = prepare_instance(folder, args.ief_kib)
        try:
            with (
                SimFleet(folder / "boards", count=1, chip=ChipType.ESP32C3, pacing=True) as fleet,
                RecordsDB(folder / "records.sqlite3") as records,
            ):
                first = provision_once(instance, fleet, records, "first flash")
                again = provision_once(instance, fleet, records, "re-provision")
        finally:
            instance.close()
    where = f"IEF with a {args.ief_kib} KiB payload"
    print(f"one paced virtual ESP32-C3 (dev build), flashing at 921600 baud; {where}\n")
    print(f"{'':<16}{'flash step':>12}{'whole run':>12}{'sectors erased by flash step':>30}")
    for label, (wall, flash, erased) in (("first flash", first), ("re-provision", again)):
        print(f"{label:<16}{flash:>10.2f} s{wall:>10.2f} s{erased:>30}")
    ratio = again[1] / first[1]
    print(f"\nre-flash / first flash (flash step): {ratio:.3f}x (goal <= 0.3x)")
    print(f"re-provision / first provision (whole run): {again[0] / first[0]:.3f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
