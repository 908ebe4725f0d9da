"""The station side of "one port, one process": start a worker per port, listen, push, record, cancel.

For each port the supervisor starts a port worker through its launcher (a fork of a warm fork server on
Linux, `python -m app port-worker` elsewhere; see app/provisioning/worker_launch.py), writes the job to
its stdin and closes it, and reads its stdout on a thread of its own,
turning each line into an event for the listener. The supervisor, not the worker, owns the instance and
the records: when a worker reports a DeviceID, the supervisor validates it and adds it to the batch
(queueing it when the instance cannot be reached); when the worker ends, it writes the record.

Ports never wait for each other: each has its own process and thread, a crash or hang in one is that
port's failure only. Listener callbacks arrive on those threads (the GUI re-emits them as Qt signals).

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
from typing import IO, Protocol

from app.domain.errors import ConflictError, ValidationError
from app.instance.api import Instance
from app.provisioning.board_reset import hard_reset
from app.provisioning.device_push import UNREACHABLE_ERRORS, push_device
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
from app.provisioning.job import JobMode, PortJob, Redactor
from app.provisioning.records import ProvisioningRecord, PushState, RecordsDB
from app.provisioning.worker_launch import WorkerLauncher, WorkerProcess, default_launcher

DEFAULT_GRACE_SECONDS = 3.0
STDERR_TAIL_LINES = 12


class SupervisorListener(Protocol):
    def on_event(self, event: Event) -> None:
        """Every event of every port, in order per port, from that port's reader thread."""

    def on_finished(self, summary: PortSummary) -> None:
        """A port's run is over and its record is written."""


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
    ) -> None:
        """`launcher` starts the workers; by default the platform's (`default_launcher`), owned and
        closed by this supervisor. It is started now, so its warm-up overlaps whatever comes first."""
        self._instance = instance
        self._records = records
        self._listener = listener
        self._owns_launcher = launcher is None
        self._launcher = launcher or default_launcher()
        self._launcher.start()
        self._grace = grace_seconds
        self._instance_lock = threading.Lock()
        self._lock = threading.Lock()
        self._runs: dict[str, _PortRun] = {}
        self.station = _station_name()
        self.operator = self._operator()

    def _operator(self) -> str:
        try:
            return self._instance.info().actor
        except UNREACHABLE_ERRORS:
            return "unknown (instance unreachable)"

    # --- public API ------------------------------------------------------------------------------
    def start(self, job: PortJob) -> None:
        """Start provisioning `job.port`. Refused while that port still has a run."""
        if not job.port:
            raise ValidationError("the job names no port")
        with self._lock:
            current = self._runs.get(job.port)
            if current is not None and not current.finished.is_set():
                raise ConflictError(f"{job.port} is already being provisioned; wait for it or cancel it")
            run = _PortRun(self, job)
            self._runs[job.port] = run
        run.start()

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
        """Cancel whatever still runs and wait for it: no worker or thread outlives the supervisor."""
        self.cancel_all("the station is closing")
        self.wait()
        if self._owns_launcher:
            self._launcher.close()

    # --- used by port runs -----------------------------------------------------------------------
    def _emit(self, event: Event) -> None:
        self._listener.on_event(event)

    def _push(self, job: PortJob, device_id: str) -> tuple[PushState, str]:
        with self._instance_lock:
            move = job.mode is JobMode.REENROL
            result = push_device(self._instance, self._records, job.batch, device_id, move=move)
        return result.state, result.message

    def _finish(self, summary: PortSummary) -> None:
        self._listener.on_finished(summary)


class _PortRun:
    """One port's worker process and the thread that reads it."""

    def __init__(self, supervisor: Supervisor, job: PortJob) -> None:
        self.sup = supervisor
        self.job = job
        self.finished = threading.Event()
        self.summary: PortSummary | None = None
        self._redact = Redactor(job.wifi_password)
        self._process: WorkerProcess | None = None
        self._stop_reason: tuple[str, Outcome] | None = None
        self._stop_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"port-{job.port}", daemon=True)
        self._timers: list[threading.Timer] = []
        self._started = time.monotonic()
        self._facts: dict[str, str] = {}
        self._device_id = ""
        self._push = (PushState.NONE, "")
        self._stderr: IO[bytes] | None = None
        self._step = Step.START

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
        finally:
            for timer in self._timers:
                timer.cancel()
            self.finished.set()

    def _serve(self, stderr: IO[bytes]) -> None:
        job = self.job
        self._stderr = stderr
        try:
            process = self.sup._launcher.launch(stderr)
        except OSError as error:
            self._conclude(Outcome.FAIL, f"could not start the port worker: {error}", Step.START, None)
            return
        with self._stop_lock:
            self._process = process
            stopped = self._stop_reason is not None
        if stopped:
            process.terminate()
        self._timer(job.timeouts.overall, self._overall_timeout)
        assert process.stdin is not None and process.stdout is not None
        with contextlib.suppress(OSError):  # a worker that died at once says why in its exit status
            process.stdin.write(job.to_json().encode("utf-8"))
        with contextlib.suppress(OSError):
            process.stdin.close()
        for raw in process.stdout:
            if raw.strip():
                self._handle(from_json_line(raw, job.port))
        process.stdout.close()
        try:
            code = process.wait(timeout=self.sup._grace)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        self._after_exit(code, stderr)

    def _handle(self, event: Event) -> None:
        if event.port != self.job.port:
            event = dataclasses.replace(event, port=self.job.port)
        if isinstance(event, StepEvent):
            self._facts.update(event.facts)
            if event.status is StepStatus.STARTED:
                self._step = event.step
        elif isinstance(event, ResultEvent):
            if self._stop_reason is None and self._stderr is not None:
                self._report_stderr(self._stderr)
                self._conclude(event.outcome, event.message, event.step, event)
            return  # the station's own result (after the push and the record) replaces the worker's
        self.sup._emit(event)
        if isinstance(event, DeviceIdEvent):
            self._on_device_id(event.device_id)

    def _on_device_id(self, device_id: str) -> None:
        port = self.job.port
        self.sup._emit(StepEvent(port=port, step=Step.PUSH, status=StepStatus.STARTED))
        try:
            state, message = self.sup._push(self.job, device_id)
        except ValidationError as error:
            state, message = PushState.NONE, f"the board sent an invalid DeviceID: {error}"
        self._device_id = device_id if state is not PushState.NONE else ""
        self._push = (state, message)
        status = StepStatus.FAILED if state in (PushState.REFUSED, PushState.NONE) else StepStatus.PASSED
        self.sup._emit(StepEvent(port=port, step=Step.PUSH, status=status, message=message))
        if status is StepStatus.FAILED:
            self.sup._emit(ErrorEvent(port=port, step=Step.PUSH, message=message, kind="PushRefused"))

    def _overall_timeout(self) -> None:
        self.stop(f"the board did not finish within {self.job.timeouts.overall:g} s", Outcome.FAIL)

    def _after_exit(self, code: int, stderr: IO[bytes]) -> None:
        if self.summary is not None:
            return  # concluded when the worker's result arrived
        tail = self._report_stderr(stderr)
        stop = self._stop_reason
        if stop is not None:
            reason, outcome = stop
            self.sup._emit(LogEvent(port=self.job.port, level="info", source=LogSource.ENGINE, text=reason))
            reset = hard_reset(self.job.port)
            self.sup._emit(LogEvent(port=self.job.port, level="info", source=LogSource.ENGINE, text=reset))
            self._conclude(outcome, f"{reason}; {reset}", self._current_step(), None)
            return
        message = f"the port worker ended without a result (exit status {code})"
        if tail:
            message += f": {tail.splitlines()[-1]}"
        self._conclude(Outcome.FAIL, message, self._current_step(), None)

    def _current_step(self) -> Step:
        return self._step

    def _conclude(self, outcome: Outcome, message: str, step: Step, result: ResultEvent | None) -> None:
        push_state, push_message = self._push
        if outcome is Outcome.PASS and push_state in (PushState.REFUSED, PushState.NONE):
            outcome, step = Outcome.FAIL, Step.PUSH
            message = push_message or "the board passed but reported no DeviceID"
        elif outcome is Outcome.PASS and push_state is PushState.QUEUED:
            message = f"{message}; {push_message}"
        message = self._redact(message)
        duration = time.monotonic() - self._started
        record = self._write_record(outcome, duration, message if outcome is not Outcome.PASS else "")
        summary = PortSummary(
            port=self.job.port,
            outcome=outcome,
            duration_s=round(duration, 3),
            device_id=self._device_id,
            push_state=push_state,
            message=message,
            step=step,
            chip=self._facts.get("chip", ""),
            mac=self._facts.get("mac", ""),
            record_id=record.id if record is not None else 0,
        )
        self.summary = summary
        self.sup._emit(
            ResultEvent(
                port=self.job.port,
                outcome=outcome,
                duration_s=summary.duration_s,
                device_id=self._device_id,
                message=message,
                step=step,
            )
        )
        self.sup._finish(summary)

    def _write_record(self, outcome: Outcome, duration: float, error: str) -> ProvisioningRecord | None:
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
            push_state=self._push[0],
            task=job.task,
            chip=self._facts.get("chip", ""),
            mac=self._facts.get("mac", ""),
            device_id=self._device_id,
            image_sha256s=job.image_sha256s,
            error=error,
        )
        try:
            return self.sup._records.add(record)
        except Exception as exc:  # a full disk must not hide the board's outcome from the person
            self.sup._emit(
                ErrorEvent(port=job.port, step=Step.RECORD, message=f"the record was not written: {exc}")
            )
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
