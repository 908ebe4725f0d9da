"""The Station page's engine room: the supervisor and port discovery, off the GUI thread.

`StationService` is created on the GUI thread and is all the page talks to. It owns a `QThread` with a
`StationWorker` on it; the worker owns the engine: port discovery (a `PortWatcher` polled by a timer),
the `Supervisor` (one child process per port, whose callbacks arrive on reader threads) and the
records file. The page's requests travel to the worker as queued signals; what the engine reports
comes back as signals carrying plain data only.

Progress from many ports is coalesced (Picard's time-budgeted batches): the reader threads only fold
events into `PortStates`; the first change after a flush schedules one, `flush_ms` later, and that
flush emits every changed port in one `ports_updated`. So 32 ports cost the window at most
1000/flush_ms updates a second. Results are never coalesced away: each finished run is also emitted on
its own (`port_finished`), in the same flush.

Building the job (the instance signs the task's images) happens here too, so the GUI never waits for it
(the instance signs without re-validating the RSA key: ~3 ms per image, see benchmarks/gui_stalls.py).
It is built afresh for every start, from the task as it is then: a task changed meanwhile (its images,
its wait for enrolment or flashing rate, from the task dialog or `ql-station task update`) applies to
the next board, also in production mode. The boards of one start share one job.
Production mode lives here, and only here: the worker holds the armed request (its WiFi password in
memory only, never written anywhere), and a port that appears after the first scan starts it with no
round trip through the window. The worker says what it has armed
(`production_changed`, also when arming failed or was undone); the page draws its banner from that, and
`StationService.production` answers "what is armed?" on the GUI thread. Workers run at a lower CPU
priority than the window and are started a few milliseconds apart, so a burst of boards does not make
the window stutter.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

from app.domain.errors import StationError
from app.instance.api import Instance
from app.ports.discovery import PortInfo, PortKind, list_all_ports
from app.ports.hotplug import PortChange, PortEvent, PortWatcher
from app.provisioning.job import PortJob
from app.provisioning.job_builder import job_for_request
from app.provisioning.records import RecordsDB
from app.provisioning.run_request import RunRequest
from app.provisioning.supervisor import Supervisor
from app.provisioning.worker_launch import default_launcher
from app.system.paths import DataDir
from app.workers.background import CallFailure, without_traceback
from app.workers.port_states import PortResult, PortStates

log = logging.getLogger(__name__)

DEFAULT_FLUSH_MS = 75
DEFAULT_SCAN_MS = 1_000
WORKER_NICENESS = 10
# Sixteen workers started in the same instant (processes, interpreters, esptool imports, reader threads)
# stalled the window by up to ~100 ms on 2 cores; one every 15 ms kept it under ~25 ms (gui_stalls.py)
# and costs the last of 32 boards under half a second.
STAGGER_MS = 15


class StationEngine:
    """The plain-Python part: supervisor, records and port state. Thread-safe where it must be."""

    def __init__(self, instance: Instance, data_dir: Path, states: PortStates) -> None:
        self.instance = instance
        self.data_dir = DataDir(data_dir)
        self.states = states
        self._records: RecordsDB | None = None
        self._supervisor: Supervisor | None = None
        # Workers run at a lower CPU priority than the window: sixteen starting at once on 2 cores
        # otherwise hold both cores for tens of milliseconds and the window stutters. They mostly
        # wait on their serial port, so a lower priority costs them little.
        self._launcher = default_launcher(niceness=WORKER_NICENESS)

    def supervisor(self) -> Supervisor:
        if self._supervisor is None:
            self._records = RecordsDB(self.data_dir.ensure().records_db)
            self._supervisor = Supervisor(
                self.instance,
                self._records,
                self.states,
                launcher=self._launcher,
                data_dir=self.data_dir.root,
                holder="station window",
            )
        return self._supervisor

    def warm_up(self) -> None:
        """Start the worker launcher now (on Linux its fork server imports esptool), not at the first run,
        and the supervisor, which finishes what a stopped station left in the DeviceID journal and
        delivers the outbox in the background."""
        self._launcher.start()
        try:
            self.supervisor()
        except StationError as exc:  # an unusable records file: said at the first run, with its reason
            log.warning("the DeviceID journal could not be opened: %s", exc)

    def build_job(self, request: RunRequest) -> PortJob:
        """The job for `request` from the task, batch and instance as they are now (never a kept one: a
        production line armed for hours must flash what the task says today)."""
        return job_for_request(self.instance, request)

    def board_refusals(self, boards: Sequence[tuple[str, str]], batch: str) -> list[tuple[str, str]]:
        """(name, reason) for the (name, MAC) boards the batch would refuse (their DeviceID is in another
        batch): listed in the release confirmation; the check step refuses them in any case."""
        if self._supervisor is None:
            return []
        refusals = self._supervisor.vetter.refusals(boards, batch)
        return [(name, refusal.reason) for name, refusal in refusals]

    def active_ports(self) -> list[str]:
        return [] if self._supervisor is None else self._supervisor.active_ports()

    def cancel(self, port: str) -> bool:
        return self._supervisor is not None and self._supervisor.cancel(port)

    def close(self) -> None:
        """Cancel what still runs and wait for it; afterwards no worker process or reader thread is left."""
        if self._supervisor is not None:
            self._supervisor.close()
        self._launcher.close()
        if self._records is not None:
            self._records.close()


class StationWorker(QObject):
    """Lives on the station thread. Its slots run there; its signals reach the GUI thread queued."""

    ports_updated = Signal(object)  # dict[str, PortSnapshot], the ports changed since the last flush
    port_finished = Signal(object)  # PortResult
    ports_listed = Signal(object)  # list[PortInfo], every port now present (after each change)
    notice = Signal(str)  # a short message for the status bar
    problem = Signal(object)  # CallFailure (the exception itself) or a sentence, for the error sink
    production_changed = Signal(object)  # RunRequest armed for production mode, or None
    _wake = Signal()

    def __init__(self, engine: StationEngine, flush_ms: int, scan_ms: int) -> None:
        super().__init__()
        self.engine = engine
        self.flush_ms = flush_ms
        self.scan_ms = scan_ms
        self.emissions = 0  # how many ports_updated were emitted (the coalescing bound is tested on it)
        self._queued: set[str] = set()  # ports whose worker is due to start (staggered or relaunching)
        self.closing = False
        self._production: RunRequest | None = None
        self._scanned = False
        self._removed_while_running: set[str] = set()
        self._plugged: list[PortInfo] = []  # newly plugged boards production mode starts after the scan
        self._scan_failed = False
        self._flush_timer: QTimer | None = None
        self._scan_timer: QTimer | None = None
        self.watcher = PortWatcher(self._snapshot_ports, self._on_port_event)
        self._wake.connect(self._schedule_flush, Qt.ConnectionType.QueuedConnection)
        engine.states.on_change = self.wake
        engine.states.on_station_note = self.notice.emit

    # --- life on the thread ----------------------------------------------------------------------
    @Slot()
    def setup(self) -> None:
        """First thing on the station thread: the timers are created here so they belong to it."""
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(self.flush_ms)
        self._flush_timer.timeout.connect(self.flush)
        self._scan_timer = QTimer(self)
        self._scan_timer.setInterval(self.scan_ms)
        self._scan_timer.timeout.connect(self.scan)
        self.scan()
        self._scan_timer.start()
        self.engine.warm_up()

    @Slot()
    def teardown(self) -> None:
        """Last thing on the station thread: stop the timers where they live."""
        self.closing = True
        for timer in (self._flush_timer, self._scan_timer):
            if timer is not None:
                timer.stop()
                timer.deleteLater()
        self._flush_timer = self._scan_timer = None

    def wake(self) -> None:
        """Called by PortStates, on any thread, at the first change after a flush."""
        if not self.closing:
            self._wake.emit()

    @Slot()
    def _schedule_flush(self) -> None:
        if self._flush_timer is not None and not self._flush_timer.isActive():
            self._flush_timer.start()

    @Slot()
    def flush(self) -> None:
        snapshots, results = self.engine.states.take_changes()
        if snapshots:
            self.emissions += 1
            self.ports_updated.emit(snapshots)
        for result in results:
            self._log_result(result)
            self.port_finished.emit(result)

    # --- ports -----------------------------------------------------------------------------------
    def _snapshot_ports(self) -> list[PortInfo]:
        return list_all_ports(self.engine.data_dir.sim_registry)

    @Slot()
    def scan(self) -> None:
        try:
            events = self.watcher.poll()
        except Exception as exc:  # a failing scan must not stop the station; say so once per streak
            if not self._scan_failed:
                self._scan_failed = True
                self._problem("Listing the serial ports", exc, f"Listing the serial ports failed: {exc}")
            return
        self._scan_failed = False
        first = not self._scanned
        self._scanned = True
        if events or first:
            self.ports_listed.emit(self.watcher.known)
        plugged, self._plugged = self._plugged, []
        request = self._production
        if plugged and request is not None:  # after ports_listed: the window knows the ports' names
            for port in plugged:
                kind = "virtual board" if port.kind is PortKind.VIRTUAL else "board"
                self.notice.emit(f"Production mode: {kind} plugged into {port.url}; provisioning started")
            self._start([p.url for p in plugged], request)

    def _on_port_event(self, event: PortEvent) -> None:
        port = event.port
        if event.change is PortChange.REMOVED:
            if self.engine.states.state_of(port.url).busy:
                self._removed_while_running.add(port.url)
            return
        if port.chip is not None:
            self.engine.states.set_chip(port.url, port.chip.display_name)
        if not self._scanned or self._production is None or not port.likely_esp:
            return
        if port.url in self._removed_while_running:
            # a board that resets during its run re-enumerates (native USB); it is not a new board
            self._removed_while_running.discard(port.url)
            return
        if self.engine.states.state_of(port.url).busy:
            return
        self._plugged.append(port)

    # --- requests from the page ------------------------------------------------------------------
    @Slot(object, object)
    def start(self, ports: Sequence[str], request: RunRequest) -> None:
        self._start(list(ports), request)

    @Slot(object)
    def set_production(self, request: RunRequest | None) -> None:
        """Arm (a request) or disarm (None) production mode. A job is built now, so problems show now;
        each board plugged in later gets one built then, from the task as it is then."""
        self._production = request
        if request is not None:
            self.engine.states.add_secret(request.password)
            try:
                self.engine.build_job(request)
            except StationError as exc:
                self._production = None
                self._problem("Arming production mode", exc, f"Production mode is off: {exc}")
            except Exception as exc:
                self._production = None
                self._defect("Arming production mode", exc)
        self.production_changed.emit(self._production)

    @property
    def production(self) -> RunRequest | None:
        """What production mode starts on a newly plugged board (None: it is off)."""
        return self._production

    @Slot(str)
    def cancel(self, port: str) -> None:
        if port in self._queued:  # its worker has not started yet (staggered, or waiting to relaunch)
            self._queued.discard(port)
            self.engine.states.not_started(port, "cancelled by the operator before its worker started")
            return
        if not self.engine.cancel(port):
            self.notice.emit(f"Nothing is running on {port}")

    def _start(self, ports: list[str], request: RunRequest) -> None:
        states = self.engine.states
        busy = [p for p in ports if states.state_of(p).busy]
        if busy:
            self.notice.emit(f"Already being provisioned, left alone: {', '.join(busy)}")
        ports = [p for p in ports if p not in busy]
        if not ports:
            return
        states.add_secret(request.password)
        for port in ports:  # only a release task is started with the batch name typed
            states.preparing(port, release=request.confirm_release is not None)
        self.flush()  # show "preparing" before the instance signs the images
        try:
            job = self.engine.build_job(request)
        except StationError as exc:
            for port in ports:
                states.not_started(port, str(exc))
            self._problem("Starting provisioning", exc, f"Provisioning could not start: {exc}")
            return
        except Exception as exc:
            for port in ports:
                states.not_started(port, f"{type(exc).__name__}: {exc}")
            self._defect("Starting provisioning", exc)
            return
        log.info("provisioning %s on %d port(s)", request.describe(), len(ports))
        self._queued.update(ports)
        self._launch(ports, job)

    def _launch(self, ports: list[str], job: PortJob) -> None:
        """Start the ports' workers one every STAGGER_MS (see there), the first at once. A port whose
        last result is in is free (the supervisor says so only once its worker has exited)."""
        if not ports or self.closing:
            return
        port, rest = ports[0], ports[1:]
        if rest:
            QTimer.singleShot(STAGGER_MS, self, lambda: self._launch(rest, job))
        if port not in self._queued:
            return  # cancelled while it waited its turn
        try:
            self.engine.supervisor().start(job.for_port(port))
        except StationError as exc:  # including another program holding the port
            self._queued.discard(port)
            self.engine.states.not_started(port, str(exc))
            self._problem(f"Starting {port}", exc, f"{port}: {exc}")
        else:
            self._queued.discard(port)

    def _problem(self, what: str, exc: Exception, message: str) -> None:
        """The exception goes to the window as itself (its frames stay on this thread)."""
        self.problem.emit(CallFailure(what, without_traceback(exc), message))

    def _defect(self, what: str, exc: Exception) -> None:
        log.error("%s failed unexpectedly:\n%s", what, traceback.format_exc())
        self.problem.emit(CallFailure.of(what, without_traceback(exc)))

    def _log_result(self, result: PortResult) -> None:
        if result.device_id:
            log.info("%s: %s, DeviceID %s", result.port, result.outcome.value.upper(), result.device_id)
        else:
            log.warning("%s: %s: %s", result.port, result.outcome.value.upper(), result.message)


class StationService(QObject):
    """The GUI thread's handle on the station thread. Create on the GUI thread; `stop()` before closing.

    Connect to the worker's signals through `worker` (they arrive on the GUI thread, queued).
    """

    _start = Signal(object, object)
    _cancel = Signal(str)
    _production = Signal(object)
    _teardown = Signal()

    def __init__(
        self,
        instance: Instance,
        data_dir: Path,
        flush_ms: int = DEFAULT_FLUSH_MS,
        scan_ms: int = DEFAULT_SCAN_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.states = PortStates()
        self.engine = StationEngine(instance, data_dir, self.states)
        self.worker = StationWorker(self.engine, flush_ms, scan_ms)
        self.station_thread = QThread()
        self.station_thread.setObjectName("station")
        self.worker.moveToThread(self.station_thread)
        self.station_thread.started.connect(self.worker.setup)
        self._start.connect(self.worker.start)
        self._cancel.connect(self.worker.cancel)
        self._production.connect(self.worker.set_production)
        self._teardown.connect(self.worker.teardown, Qt.ConnectionType.BlockingQueuedConnection)
        self.worker.production_changed.connect(self._production_changed)
        self.production: RunRequest | None = None  # what the worker last said it has armed
        self.running = False

    def begin(self) -> None:
        """Start the station thread: the first port scan follows at once."""
        if not self.running:
            self.running = True
            self.station_thread.start()

    def start(self, ports: Sequence[str], request: RunRequest) -> None:
        self._start.emit(list(ports), request)

    def cancel(self, port: str) -> None:
        self._cancel.emit(port)

    def set_production(self, request: RunRequest | None) -> None:
        """Ask the worker to arm `request` (None: disarm); `production` follows once it has."""
        self._production.emit(request)

    @Slot(object)
    def _production_changed(self, armed: RunRequest | None) -> None:
        self.production = armed

    def stop(self) -> None:
        """Stop the timers, the thread, then every port run (cancelled, boards reset). Blocks until done."""
        if not self.running:
            return
        self.running = False
        self.worker.closing = True
        self._teardown.emit()
        self.station_thread.quit()
        self.station_thread.wait()
        self.engine.close()
