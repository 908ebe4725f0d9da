"""The station side of "one port, one process": start a worker per port, journal, push, record, cancel.

For each port the supervisor starts a port worker through its launcher (a fork of a warm fork server on
Linux, `python -m app port-worker` elsewhere; see app/provisioning/worker_launch.py), writes the job to
its stdin as one line, and reads its stdout on a thread of its own, turning each line into an event for
the listener. One `_PortRun` owns a port's run from start to outcome: the worker, its DeviceID, the
record, and the moment the port is free again.

A DeviceID is never lost. When the worker reports one, the run writes it to the journal (synced to disk)
and only then tells the worker to acknowledge it to the board (app/provisioning/station_replies.py).
The push to the batch runs on the supervisor's `DevicePusher` while the board goes on: a slow or
unreachable instance queues the ID and never holds a board back, and the board's outcome is the
board's. The record of every board that gave an ID names it, whatever the outcome.

Ports never wait for each other: each has its own process and thread, a crash or hang in one is that
port's failure only. Listener callbacks arrive on those threads (the GUI re-emits them as Qt signals).
A run's result is emitted after its worker has exited and the port is free: a listener may start the
port again from inside `on_finished`.

Cancel terminates the worker (SIGTERM; SIGKILL after a grace period) and then hard-resets the board with
pyserial: RTS pulses EN with IO0 released, so the board restarts into whatever is in its flash. A worker
stopped mid-write leaves a partial image, so a cancelled board must be provisioned again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Protocol

from app.domain.device_id import parse_device_id
from app.domain.errors import ConflictError, StationError, StorageError, ValidationError
from app.instance.api import Instance
from app.ports.discovery import list_all_ports
from app.ports.reservation import PortReservation, reserve_port
from app.provisioning import serial_urls
from app.provisioning.board_console import BoardConsole
from app.provisioning.board_enrolment_log import BoardEnrolmentLog
from app.provisioning.board_reset import hard_reset
from app.provisioning.board_vetting import BoardVetter
from app.provisioning.device_journal import JournalEntry, JournalState
from app.provisioning.device_push import UNREACHABLE_ERRORS, PushResult
from app.provisioning.device_pusher import DevicePusher
from app.provisioning.enrolment_check import Confirmation, wait_until_enrolled
from app.provisioning.events import (
    DeviceIdEvent,
    ErrorEvent,
    Event,
    LogEvent,
    LogSource,
    Outcome,
    ResultEvent,
    Step,
    StepEvent,
    StepStatus,
    from_json_line,
)
from app.provisioning.flash_rate import rate_for_port
from app.provisioning.job import AUTO_BAUD, JobMode, PortJob, Redactor
from app.provisioning.pass_warning import RECORD_TEXT, PassWarning, after_enrolment, pass_warning
from app.provisioning.records import ProvisioningRecord, PushState, RecordsDB
from app.provisioning.staged_images import StagedImages
from app.provisioning.station_replies import (
    board_refused_reply,
    journaled_reply,
    refused_reply,
    vetted_reply,
)
from app.provisioning.step_facts import StepFacts
from app.provisioning.step_log import StepLog, StepLogEntry
from app.provisioning.worker_launch import WorkerLauncher, WorkerProcess, default_launcher
from app.system.paths import DataDir

DEFAULT_GRACE_SECONDS = 3.0
STDERR_TAIL_LINES = 12
MAX_MESSAGE_CHARS = 2000


class SupervisorListener(Protocol):
    def on_event(self, event: Event) -> None:
        """Every event of every port, in order per port, from that port's reader thread."""

    def on_finished(self, summary: PortSummary) -> None:
        """A port's run is over, its record is written and the port is free."""


@dataclass(frozen=True)
class PortSummary:
    port: str
    outcome: Outcome
    duration_s: float
    device_id: str = ""
    push_state: PushState = PushState.NONE
    message: str = ""
    step: Step = Step.DONE
    chip: str = ""
    mac: str = ""
    record_id: int = 0
    warning: str = ""  # a pass that is not plain: why (offline, kept WiFi; app/provisioning/pass_warning)


def _station_name() -> str:
    try:
        return socket.gethostname()
    except OSError:
        return "unknown"


class Supervisor:
    def __init__(
        self,
        instance: Instance,
        records: RecordsDB,
        listener: SupervisorListener,
        *,
        launcher: WorkerLauncher | None = None,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        data_dir: Path | None = None,
        holder: str = "ql-station",
    ) -> None:
        """`launcher` starts the workers; by default the platform's (`default_launcher`), owned and
        closed by this supervisor. It is started now, so its warm-up overlaps whatever comes first.

        With `data_dir`, each port is reserved there for `holder` while it runs (app/ports/reservation),
        so another process cannot drive the same board; without it (tests) ports are not reserved.

        DeviceIDs a stopped station left in the journal unpushed are queued now and delivered first."""
        serial_urls.install()  # the enrol step's board console opens ports here: the workers' quick client
        self._instance = instance
        self._records = records
        self._listener = listener
        self._report_recovered(records.journal.recover())
        self._pusher = DevicePusher(instance, records.journal)
        self.vetter = BoardVetter(instance, records)
        self._owns_launcher = launcher is None
        self._launcher = launcher or default_launcher()
        self._launcher.start()
        self._grace = grace_seconds
        self._staged = StagedImages()  # the workers read the jobs' images from here
        self._data_dir = data_dir
        self._holder = holder
        self._lock = threading.Lock()
        self._runs: dict[str, _PortRun] = {}
        self.station = _station_name()
        self.operator = self._operator()

    def _operator(self) -> str:
        try:
            return self._instance.info().actor
        except UNREACHABLE_ERRORS:
            return "unknown (instance unreachable)"

    def _report_recovered(self, entries: list[JournalEntry]) -> None:
        if entries:
            ids = ", ".join(f"{e.device_id[:12]}... ({e.batch})" for e in entries[:5])
            more = f" and {len(entries) - 5} more" if len(entries) > 5 else ""
            text = (
                f"{len(entries)} DeviceID(s) received by a station that stopped before pushing them are "
                f"queued and being delivered: {ids}{more}"
            )
            self._listener.on_event(LogEvent(port="", level="warning", source=LogSource.ENGINE, text=text))

    # --- public API ------------------------------------------------------------------------------
    def start(self, job: PortJob) -> None:
        """Start provisioning `job.port`. Refused (ConflictError) while that port still has a run here,
        and (PortBusyError, naming the holder) while another process holds it."""
        self.start_all([job])

    def start_all(self, jobs: list[PortJob]) -> None:
        """Start every job, or none: all ports are reserved before any board is touched, so a port held
        elsewhere refuses the whole command at once instead of leaving half the boards started."""
        if any(not job.port for job in jobs):
            raise ValidationError("the job names no port")
        jobs = self._with_flash_rates(jobs)
        with self._lock:
            for job in jobs:
                current = self._runs.get(job.port)
                if current is not None and not current.finished.is_set():
                    raise ConflictError(f"{job.port} is already being provisioned; wait for it or cancel it")
            reservations = self._reserve_all([job.port for job in jobs])
            runs = [_PortRun(self, job, held) for job, held in zip(jobs, reservations, strict=True)]
            self._runs.update((run.job.port, run) for run in runs)
        for run in runs:
            run.start()

    def _with_flash_rates(self, jobs: list[PortJob]) -> list[PortJob]:
        """A job whose rate is automatic gets the fastest its port's USB bridge carries (flash_rate)."""
        if not any(job.mode is JobMode.PROVISION and job.baud == AUTO_BAUD for job in jobs):
            return jobs
        registry = DataDir(self._data_dir).sim_registry if self._data_dir is not None else None
        known = list_all_ports(registry)
        out = []
        for job in jobs:
            if job.mode is JobMode.PROVISION and job.baud == AUTO_BAUD:
                rate = rate_for_port(job.port, known)
                job = dataclasses.replace(job, baud=rate.baud, rate_note=rate.reason)
            out.append(job)
        return out

    def _reserve_all(self, ports: list[str]) -> list[PortReservation | None]:
        if self._data_dir is None:
            return [None] * len(ports)
        taken: list[PortReservation | None] = []
        try:
            for port in ports:
                taken.append(reserve_port(self._data_dir, port, self._holder))
        except BaseException:
            for reservation in taken:
                if reservation is not None:
                    reservation.release()
            raise
        return taken

    def cancel(self, port: str, reason: str = "cancelled by the operator") -> bool:
        """Stop the port's worker and reset its board. Returns False if nothing runs there."""
        with self._lock:
            run = self._runs.get(port)
        if run is None or run.finished.is_set():
            return False
        run.stop(reason, Outcome.CANCELLED)
        return True

    def cancel_all(self, reason: str = "cancelled by the operator") -> None:
        for port in self.active_ports():
            self.cancel(port, reason)

    def active_ports(self) -> list[str]:
        with self._lock:
            return [port for port, run in self._runs.items() if not run.finished.is_set()]

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every started port has finished; False if `timeout` ran out first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not run.finished.wait(left):
                return False
            run.join()
        return True

    def summaries(self) -> list[PortSummary]:
        with self._lock:
            return [run.summary for run in self._runs.values() if run.summary is not None]

    def close(self) -> None:
        """Cancel whatever still runs and wait for it: no worker or thread outlives the supervisor.
        Pushes not answered yet stay in the journal's outbox."""
        self.cancel_all("the station is closing")
        self.wait()
        self._pusher.close()
        if self._owns_launcher:
            self._launcher.close()
        self._staged.close()

    # --- used by port runs -----------------------------------------------------------------------
    def _emit(self, event: Event) -> None:
        self._listener.on_event(event)

    def _finish(self, summary: PortSummary) -> None:
        self._listener.on_finished(summary)


class _PortRun:
    """One port's run, start to outcome: its worker process, the thread that reads it, its DeviceID."""

    def __init__(self, supervisor: Supervisor, job: PortJob, reservation: PortReservation | None) -> None:
        self.sup = supervisor
        self.job = job
        self._reservation = reservation
        self.finished = threading.Event()
        self.summary: PortSummary | None = None
        self._redact = Redactor(job.wifi_password)
        self._steps = StepLog(self._redact)  # for the record: the reader's and the pusher's thread add
        self._steps_lock = threading.Lock()
        self._process: WorkerProcess | None = None
        self._stop_reason: tuple[str, Outcome] | None = None
        self._stop_lock = threading.Lock()
        self._stopping = threading.Event()  # wakes the enrol step's wait
        self._thread = threading.Thread(target=self._run, name=f"port-{job.port}", daemon=True)
        self._timers: list[threading.Timer] = []
        self._started = time.monotonic()
        self._started_at = datetime.now(UTC)  # a re-enrolled board must be seen by the instance after this
        self._facts = StepFacts()
        self._step = Step.START
        self._worker_result: ResultEvent | None = None
        # What became of the board's DeviceID; the pusher's thread writes it, so under `_push_lock`.
        self._push_lock = threading.Lock()
        self._entry: JournalEntry | None = None
        self._push: PushResult | None = None
        self._concluded = False
        self._id_problem = ""
        self._board_log = BoardEnrolmentLog()  # the board's own word on its enrolment (enrol step)
        self._enrolment_note = ""  # the enrol step's sentence when it could not confirm (offline)
        self._enrolled: bool | None = None  # the enrol step's answer (None: it did not run or decide)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        if self._thread is not threading.current_thread():
            self._thread.join()

    def stop(self, reason: str, outcome: Outcome) -> None:
        with self._stop_lock:
            if self._stop_reason is not None:
                return
            self._stop_reason = (reason, outcome)
            process = self._process
        self._stopping.set()
        if process is not None and process.poll() is None:
            process.terminate()
            self._timer(self.sup._grace, self._kill)

    def _kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()

    def _timer(self, seconds: float, action: Callable[[], None]) -> None:
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    # --- the reader thread -----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            with tempfile.TemporaryFile() as stderr:
                self._serve(stderr)
        except BaseException as error:  # a bug here must still end the run with a result and a record
            self._conclude_once(Outcome.FAIL, f"internal error in the station: {error!r}", self._step)
            raise
        finally:
            for timer in self._timers:
                timer.cancel()
            self._free_port()

    def _free_port(self) -> None:
        if self._reservation is not None:
            self._reservation.release()
        self.finished.set()

    def _serve(self, stderr: IO[bytes]) -> None:
        job = self.job
        try:
            line = job.to_json(self.sup._staged)
        except StorageError as error:  # the station's own folder is full or gone: a sentence that says so
            message = f"could not hand the images to the port worker: {error}"
            self._conclude_once(Outcome.FAIL, message, Step.START)
            return
        try:
            process = self.sup._launcher.launch(stderr)
        except OSError as error:
            self._conclude_once(Outcome.FAIL, f"could not start the port worker: {error}", Step.START)
            return
        with self._stop_lock:
            self._process = process
            stopped = self._stop_reason is not None
        if stopped:
            process.terminate()
        self._timer(job.timeouts.overall, self._overall_timeout)
        assert process.stdin is not None and process.stdout is not None
        self._write_worker(line.encode("utf-8") + b"\n")
        for raw in process.stdout:
            if raw.strip():
                self._handle(from_json_line(raw, job.port))
        process.stdout.close()
        with contextlib.suppress(OSError):
            process.stdin.close()
        try:
            code = process.wait(timeout=self.sup._grace)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        self._after_exit(code, stderr)

    def _log_step(self, event: Event) -> None:
        """Step and error events go into the record's step log (the step log redacts them)."""
        at = datetime.fromtimestamp(event.wall, UTC)
        with self._steps_lock:
            if isinstance(event, StepEvent):
                self._steps.add(at, event.step.value, event.status.value, event.message)
            elif isinstance(event, ErrorEvent):
                self._steps.add(at, event.step.value, "error", event.message)

    def _write_worker(self, data: bytes) -> None:
        stdin = self._process.stdin if self._process is not None else None
        if stdin is None:
            return
        with contextlib.suppress(OSError, ValueError):  # a worker that died says why in its exit status
            stdin.write(data)
            stdin.flush()

    def _handle(self, event: Event) -> None:
        if event.port != self.job.port:
            event = dataclasses.replace(event, port=self.job.port)
        self._log_step(event)
        if isinstance(event, StepEvent):
            self._facts = self._facts.merged(event.facts)
            if event.status is StepStatus.STARTED:
                self._step = event.step
        elif isinstance(event, ResultEvent):
            self._worker_result = event
            return  # the station's own result (after the worker exits) replaces the worker's
        elif isinstance(event, LogEvent) and event.source is LogSource.BOARD:
            self._board_log.feed(event.text)
        self.sup._emit(event)
        if isinstance(event, DeviceIdEvent):
            self._journal(event.device_id)
        elif (
            isinstance(event, StepEvent)
            and event.step is Step.DETECT
            and event.status is StepStatus.PASSED
            and self.job.mode is JobMode.PROVISION
        ):
            self._vet_board()

    def _vet_board(self) -> None:
        """The worker's check step waits for this: may the board be flashed into the job's batch?"""
        mac = self._facts.mac
        try:
            refused = self.sup.vetter.refusal(mac, self.job.batch)
        except StationError as error:  # the records cannot be read: say so rather than guess
            self._write_worker(board_refused_reply(f"the station could not look this board up: {error}"))
            return
        self._write_worker(vetted_reply(mac) if refused is None else board_refused_reply(refused.reason))

    # --- the DeviceID: journal, acknowledge, push ---------------------------------------------------
    def _journal(self, text: str) -> None:
        """Save the ID for good, then let the worker acknowledge it; refuse it when it cannot be saved."""
        job = self.job
        try:
            device_id = parse_device_id(text)
            entry = self.sup._records.journal.receive(
                device_id,
                batch=job.batch,
                move=job.mode is JobMode.REENROL,
                port=job.port,
                mac=self._facts.mac,
                task=job.task,
            )
        except StationError as error:
            reason = self._redact(str(error))
            with self._push_lock:
                self._id_problem = f"DeviceID {text[:64]} was not saved, so it was not acknowledged: {reason}"
            self._write_worker(refused_reply(reason))
            self._emit_logged(
                ErrorEvent(port=job.port, step=Step.PUSH, message=self._id_problem, kind="Journal")
            )
            return
        with self._push_lock:
            self._entry = entry
        self._write_worker(journaled_reply(device_id))
        self._emit_logged(StepEvent(port=job.port, step=Step.PUSH, status=StepStatus.STARTED))
        self.sup._pusher.submit(entry, self._pushed)

    def _emit_logged(self, event: Event) -> None:
        """An event the station makes itself (the push): to the listener and into the step log."""
        self._log_step(event)
        self.sup._emit(event)

    def _pushed(self, entry: JournalEntry, result: PushResult) -> None:
        """The pusher's answer (on its thread). After the result is out, the journal and the record
        already say what happened; the run has nothing left to tell."""
        with self._push_lock:
            if self._concluded:
                return
            self._push = result
            refused = result.state is JournalState.REFUSED
            status = StepStatus.FAILED if refused else StepStatus.PASSED
            self._emit_logged(
                StepEvent(port=self.job.port, step=Step.PUSH, status=status, message=result.message)
            )
            if refused:
                self._emit_logged(
                    ErrorEvent(port=self.job.port, step=Step.PUSH, message=result.message, kind="PushRefused")
                )

    def _overall_timeout(self) -> None:
        self.stop(f"the board did not finish within {self.job.timeouts.overall:g} s", Outcome.FAIL)

    # --- the outcome ------------------------------------------------------------------------------
    def _after_exit(self, code: int, stderr: IO[bytes]) -> None:
        tail = self._report_stderr(stderr)
        stop = self._stop_reason
        result = self._worker_result
        if result is not None and (stop is None or result.outcome is Outcome.PASS):
            self._conclude_once(*self._confirm_enrolment(result))
            return
        if stop is not None:
            reason, outcome = stop
            self.sup._emit(LogEvent(port=self.job.port, level="info", source=LogSource.ENGINE, text=reason))
            reset = hard_reset(self.job.port)
            self.sup._emit(LogEvent(port=self.job.port, level="info", source=LogSource.ENGINE, text=reset))
            self._conclude_once(outcome, f"{reason}; {reset}", self._step)
            return
        message = f"the port worker ended without a result (exit status {code})"
        if tail:
            message += f": {tail.splitlines()[-1]}"
        self._conclude_once(Outcome.FAIL, message, self._step)

    def _confirm_enrolment(self, result: ResultEvent) -> tuple[Outcome, str, Step]:
        """The `enrol` step for a passed board when its job asks (app/provisioning/enrolment_check.py)."""
        with self._push_lock:
            entry = self._entry
        if result.outcome is not Outcome.PASS or self.job.enrol_wait_s <= 0 or entry is None:
            return result.outcome, result.message, result.step
        port = self.job.port
        self.sup._emit(StepEvent(port=port, step=Step.ENROL, status=StepStatus.STARTED))

        def push() -> PushResult | None:
            with self._push_lock:
                return self._push

        self._board_log.expect(entry.device_id)
        with BoardConsole(port, self._board_line, self._engine_note):  # the worker has exited: our port
            check = wait_until_enrolled(
                self.sup._instance,
                entry.device_id,
                push,
                self.job.enrol_wait_s,
                board=self._board_log.verdict,
                stopped=self._stopping.is_set,
                seen_since=self._started_at if self.job.mode is JobMode.REENROL else None,
                sleep=self._stopping.wait,
            )
        if check.confirmation is Confirmation.STOPPED and self._stop_reason is not None:
            reason, outcome = self._stop_reason
            self.sup._emit(StepEvent(port=port, step=Step.ENROL, status=StepStatus.FAILED, message=reason))
            return outcome, f"{reason} while waiting for enrolment", Step.ENROL
        if check.confirmation is Confirmation.SKIPPED:
            return result.outcome, result.message, result.step
        failed = check.confirmation is Confirmation.NOT_ENROLLED
        status = StepStatus.FAILED if failed else StepStatus.PASSED
        confirmed = None if failed else check.confirmation is Confirmation.ENROLLED
        self._enrolled = confirmed
        self._enrolment_note = check.message if confirmed is False else ""
        facts = StepFacts(enrolled=confirmed, firmware=check.firmware)
        self._emit_logged(
            StepEvent(port=port, step=Step.ENROL, status=status, message=check.message, facts=facts)
        )
        if failed:
            self.sup._emit(ErrorEvent(port=port, step=Step.ENROL, message=check.message, kind="NotEnrolled"))
            return Outcome.FAIL, check.message, Step.ENROL
        return result.outcome, f"{result.message}; {check.message}", result.step

    def _board_line(self, text: str) -> None:
        self._board_log.feed(text)
        self.sup._emit(
            LogEvent(port=self.job.port, level="info", source=LogSource.BOARD, text=self._redact(text))
        )

    def _engine_note(self, text: str) -> None:
        self.sup._emit(LogEvent(port=self.job.port, level="info", source=LogSource.ENGINE, text=text))

    def _conclude_once(self, outcome: Outcome, message: str, step: Step) -> None:
        with self._push_lock:
            if self._concluded:
                return
            self._concluded = True
            entry, push, problem = self._entry, self._push, self._id_problem
        outcome, message, step = _with_push(outcome, message, step, entry, push, problem)
        message = _bounded(self._redact(message))
        duration = time.monotonic() - self._started
        with self._steps_lock:
            self._steps.add(datetime.now(UTC), step.value, outcome.value, message)
            steps = self._steps.entries()
        error = message if outcome is not Outcome.PASS else ""
        warning = self._pass_warning() if outcome is Outcome.PASS else ""
        record = self._write_record(outcome, duration, error, warning, entry, step, steps)
        push_state = record.push_state if record is not None else _push_state(entry, push)
        summary = PortSummary(
            port=self.job.port,
            outcome=outcome,
            duration_s=round(duration, 3),
            device_id=entry.device_id if entry is not None else "",
            push_state=push_state,
            message=message,
            step=step,
            chip=self._facts.chip,
            mac=self._facts.mac,
            record_id=record.id if record is not None else 0,
            warning=warning,
        )
        self.summary = summary
        self._free_port()  # the worker has exited: the port is free before anyone hears the result
        self.sup._emit(
            ResultEvent(
                port=self.job.port,
                outcome=outcome,
                duration_s=summary.duration_s,
                device_id=summary.device_id,
                message=message,
                step=step,
            )
        )
        self.sup._finish(summary)

    def _pass_warning(self) -> str:
        """Why this pass is not plain (app/provisioning/pass_warning.py), as the record says it; ''."""
        kind = after_enrolment(pass_warning(self._facts.wifi, self._facts.ssid_sent), self._enrolled)
        if kind is PassWarning.ENROLMENT_UNCONFIRMED and self._enrolment_note:
            return self._enrolment_note
        return RECORD_TEXT[kind] if kind is not None else ""

    def _write_record(
        self,
        outcome: Outcome,
        duration: float,
        error: str,
        warning: str,
        entry: JournalEntry | None,
        step: Step,
        steps: tuple[StepLogEntry, ...],
    ) -> ProvisioningRecord | None:
        job = self.job
        record = ProvisioningRecord(
            at=datetime.now(UTC),
            operator=self.sup.operator,
            station=self.sup.station,
            port=job.port,
            mode=job.mode.value,
            batch=job.batch,
            outcome=outcome,
            duration_s=duration,
            push_state=PushState.NONE,  # the journal entry's state, read as the record is written
            task=job.task,
            chip=self._facts.chip,
            mac=self._facts.mac,
            device_id=entry.device_id if entry is not None else "",
            image_sha256s=job.image_sha256s,
            error=error,
            warning=warning,
            journal_id=entry.id if entry is not None else 0,
            step=step.value,
            step_log=steps,
        )
        try:
            return self.sup._records.add(record)
        except StationError as exc:  # a full disk must not hide the board's outcome from the person
            text = f"the record was not written: {exc}"
            if entry is not None:
                text += f"; DeviceID {entry.device_id} is safe in the journal"
            self.sup._emit(ErrorEvent(port=job.port, step=Step.RECORD, message=text))
            return None

    def _report_stderr(self, stderr: IO[bytes]) -> str:
        """What the worker wrote to stderr (tracebacks, stray library output) goes to the port's log."""
        tail = self._stderr_tail(stderr)
        if tail:
            self.sup._emit(LogEvent(port=self.job.port, level="debug", source=LogSource.WORKER, text=tail))
        return tail

    def _stderr_tail(self, stderr: IO[bytes]) -> str:
        try:
            stderr.seek(0)
            text = stderr.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        lines = [line for line in text.splitlines() if line.strip()]
        return self._redact("\n".join(lines[-STDERR_TAIL_LINES:]))


def _with_push(
    outcome: Outcome,
    message: str,
    step: Step,
    entry: JournalEntry | None,
    push: PushResult | None,
    problem: str,
) -> tuple[Outcome, str, Step]:
    """The board decides its outcome; the push can only turn a pass into a fail when the instance
    refused the ID, and a pass without a saved ID is no pass."""
    if outcome is not Outcome.PASS:
        return outcome, message, step
    if entry is None:
        return Outcome.FAIL, problem or "the board passed but reported no DeviceID", Step.PUSH
    if push is not None and push.state is JournalState.REFUSED:
        return Outcome.FAIL, push.message, Step.PUSH
    if push is None:
        return (
            outcome,
            f"{message}; queued for batch {entry.batch!r}: the instance has not answered yet",
            step,
        )
    if push.state is JournalState.QUEUED:
        return outcome, f"{message}; {push.message}", step
    return outcome, message, step


def _push_state(entry: JournalEntry | None, push: PushResult | None) -> PushState:
    if entry is None:
        return PushState.NONE
    if push is None:
        return PushState.QUEUED
    return PushState(push.state.value)


def _bounded(text: str) -> str:
    """Whatever a board did (repeat a request for minutes, print a 100 KB line), a message stays readable."""
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return text[: MAX_MESSAGE_CHARS - 40] + f"... ({len(text) - MAX_MESSAGE_CHARS + 40} characters not shown)"
