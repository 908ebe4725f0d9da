"""Many virtual devices against the enrolment service at once: the loop benchmarks/enrolment.py and
benchmarks/firmware_download.py share (threads taking devices from one queue until it is empty)."""

from __future__ import annotations

import queue
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.sim.device_enrolment import DeviceKeys, EnrolFailure


@dataclass(frozen=True)
class CrowdRun:
    latencies: list[float]  # seconds, one per device that finished
    failures: list[str]  # the board's error line, one per device that did not
    elapsed: float  # wall seconds from the first start to the last finish
    client_cpu: float  # CPU seconds of this process meanwhile (the devices' side)

    def percentiles_ms(self) -> tuple[float, float] | None:
        """Median and p95 of the latencies in milliseconds, or None when nobody finished."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
        return statistics.median(ordered) * 1000, p95 * 1000


def run_crowd(
    devices: Sequence[DeviceKeys], one: Callable[[DeviceKeys], float], concurrency: int
) -> CrowdRun:
    """`one(keys)` for every device, `concurrency` at a time; `one` returns the seconds it took."""
    work: queue.SimpleQueue[DeviceKeys] = queue.SimpleQueue()
    for keys in devices:
        work.put(keys)
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        while True:
            try:
                keys = work.get_nowait()
            except queue.Empty:
                return
            try:
                took = one(keys)
            except EnrolFailure as exc:
                with lock:
                    failures.append(str(exc))
                continue
            with lock:
                latencies.append(took)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    cpu = time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return CrowdRun(latencies, failures, time.perf_counter() - start, time.process_time() - cpu)
