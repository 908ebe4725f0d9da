"""One board, top to bottom: detect -> check -> flash -> boot -> ief -> result.

Each step announces itself (`step started`), runs under its own time limit, and ends `passed` with what
it learned or `failed` with a sentence a person can act on, naming the step. Re-enrolment skips the
first three steps: the board already runs its IEF, so it is only reset into it and served again.
The pipeline never touches the instance or the records: it reports the DeviceID the moment it arrives
and waits for the station (the parent process) to journal it (`confirm`) before the board is told "OK";
the station then adds it to the batch while the board goes on to join WiFi.
"""

from __future__ import annotations

import hashlib
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import serial

from app.domain.device_id import DeviceID
from app.domain.errors import StationError
from app.domain.kinds import ImageKind
from app.flashing.board_connection import ROM_BAUD, BoardConnection, ChipIdentity, ResetMode, WriteResult
from app.flashing.flash_checks import check_bootloader, check_chip_matches
from app.flashing.flash_errors import (
    BoardVanishedError,
    FlashCancelledError,
    FlashError,
    FlashRefusedError,
    VerifyError,
)
from app.flashing.partition_table import parse_partition_table
from app.provisioning.board_reset import open_uart, prepared_uart, reset_into_firmware
from app.provisioning.boot_listen import BootFailedError, listen_for_boot
from app.provisioning.boot_watch import BootWatch
from app.provisioning.event_writer import EventWriter
from app.provisioning.events import DeviceIdEvent, LogSource, Outcome, ResultEvent, Step, StepStatus
from app.provisioning.ief_session import (
    IefAnswers,
    IefLine,
    IefRequest,
    IefResult,
    NetworkState,
    run_ief_session,
)
from app.provisioning.job import AUTO_BAUD, DEFAULT_BAUD, JobMode, PortJob, next_lower_baud
from app.provisioning.preflight import check_job_images
from app.provisioning.step_facts import StepFacts
from app.provisioning.step_guard import StepGuard

Confirm = Callable[[DeviceID], None]
"""Blocks until the station has saved the DeviceID; raises StationError when it could not."""

_NOT_RETRIED = (FlashRefusedError, FlashCancelledError, BoardVanishedError)
"""Flash failures a lower baud rate cannot help: refused on purpose, cancelled, or the board is gone."""

IEF_WATCHDOG_SLACK = 5.0
"""The IEF session times itself out with a better message; the watchdog is only its safety net."""

Vet = Callable[[str], None]
"""Blocks until the station says the board (by MAC) may be flashed; raises StationError when it may not
(its DeviceID is in another batch: app/provisioning/board_vetting.py)."""


class StepFailed(Exception):
    """A step failed and has been reported; carries what the result event needs."""

    def __init__(self, step: Step, message: str, outcome: Outcome = Outcome.FAIL) -> None:
        super().__init__(message)
        self.step = step
        self.message = message
        self.outcome = outcome


@dataclass
class StepReport:
    """Filled in by a step body: the sentence and facts of its `passed` event."""

    message: str = ""
    facts: StepFacts = field(default_factory=StepFacts)


class Pipeline:
    def __init__(
        self, job: PortJob, out: EventWriter, guard: StepGuard, confirm: Confirm, vet: Vet | None = None
    ) -> None:
        self.job = job
        self.out = out
        self.guard = guard
        self.confirm = confirm
        self.vet = vet
        self.device_id = ""
        self.boot_watch = BootWatch()

    def run(self) -> ResultEvent:
        """Run the job's mode to its end; always returns (and emits) the result event."""
        started = time.monotonic()
        outcome, step, message = Outcome.PASS, Step.DONE, ""
        uart: Any = None
        try:
            uart = self.provision() if self.job.mode is JobMode.PROVISION else self.reenrol()
        except StepFailed as failed:
            outcome, step, message = failed.outcome, failed.step, failed.message
        if outcome is Outcome.PASS:
            message = f"provisioned, DeviceID {self.device_id}"
        result = ResultEvent(
            port=self.job.port,
            outcome=outcome,
            duration_s=round(time.monotonic() - started, 3),
            device_id=self.device_id,
            message=message,
            step=step,
        )
        self.out.emit(result)
        if uart is not None:
            _close_quietly(uart)  # after the result: closing a network port can take a while
        return result

    # --- the two modes (each returns the board's open UART, closed once the result is out) -----
    def provision(self) -> Any:
        board, identity = self.detect()
        with board:
            self.check(identity)
            self.flash(board)
            # The boot step goes on with the flashing connection (a second one cost every board an open
            # and a negotiation, in the busiest moment of a line's run); after a retry at a lower rate
            # that connection is gone, and the boot step opens the port itself.
            uart = self.boot(board if board.is_open else None)
        return self._enrol_on(uart)

    def reenrol(self) -> Any:
        return self._enrol_on(self.boot())

    def _enrol_on(self, uart: Any) -> Any:
        try:
            self.enrol(uart)
        except BaseException:
            _close_quietly(uart)
            raise
        return uart

    # --- the steps -----------------------------------------------------------------------------
    def detect(self) -> tuple[BoardConnection, ChipIdentity]:
        with self._step(Step.DETECT, self.job.timeouts.detect) as report:
            reset = ResetMode(self.job.connect_reset.value)
            board = BoardConnection.open(self.job.port, baud=ROM_BAUD, reset=reset, sink=self.out.flash_sink)
            try:
                identity = board.identify()
            except BaseException:
                board.close()
                raise
            report.message = f"{identity.description}, MAC {identity.mac}"
            report.facts = _identity_facts(identity)
        return board, identity

    def check(self, identity: ChipIdentity) -> None:
        job = self.job
        with self._step(Step.CHECK, job.timeouts.check) as report:
            assert job.device_type is not None and job.bootloader is not None
            check_chip_matches(identity.chip, identity.name, job.device_type)
            check_job_images(job.images, job.device_type, job.bootloader, job.key_digest_hex)
            if identity.security is None:  # only for chips we do not provision, refused above
                raise FlashRefusedError(f"the security state of the {identity.name} could not be read")
            if self.vet is not None:  # before anything irreversible: would the batch refuse this board?
                self.vet(identity.mac)
            confirmation = job.batch if job.release_confirmed else None
            check_bootloader(identity.security, job.bootloader, job.key_digest_hex, confirmation, job.batch)
            report.message = f"{job.bootloader.value} bootloader allowed on this {identity.name}"

    def flash(self, board: BoardConnection) -> None:
        """Write and verify the images at the job's rate; if that fails on the wire, reconnect and try
        once more at the next lower rate (a bridge or cable that cannot carry the rate), and say so."""
        job = self.job
        baud = job.baud if job.baud != AUTO_BAUD else DEFAULT_BAUD
        with self._step(Step.FLASH, job.timeouts.flash) as report:
            if job.rate_note:
                self.out.log(f"flashing at {baud} baud: {job.rate_note}")
            fell_back = ""
            try:
                result = self._write_images(board, baud)
            except FlashError as error:
                lower = next_lower_baud(baud)
                if lower is None or isinstance(error, _NOT_RETRIED):
                    raise
                fell_back = f" (after {baud} baud failed: {error})"
                self.out.log(f"flashing at {baud} baud failed ({error}); trying once at {lower}", "warning")
                board.close()
                try:
                    with self._reconnect() as again:
                        result = self._write_images(again, lower)
                except FlashError as second:
                    raise type(error)(f"{error}; tried once more at {lower} baud: {second}") from None
                baud = lower
            total = sum(len(image.data) for image in job.images)
            written = f"{total} bytes written and verified"
            sectors = sum(p.sectors for p in result.plans)
            if result.plans and result.sectors_written < sectors:
                written = (
                    f"{total} bytes verified; {result.sectors_written} of {sectors} sectors written, "
                    "the rest already held the right bytes"
                )
            report.message = f"{len(job.images)} images, {written}, at {baud} baud{fell_back}"
            report.facts = StepFacts(image_sha256s=tuple((i.kind.value, i.sha256) for i in job.images))

    def _write_images(self, board: BoardConnection, baud: int) -> WriteResult:
        job = self.job
        board.run_stub()
        if baud != ROM_BAUD:
            board.change_baud(baud)
        result = board.write_images(job.images, sink=self.out.flash_sink, deflated=job.deflated)
        for image, verified in zip(job.images, result.verified, strict=True):
            if not verified:
                self._verify_by_readback(board, image.name, image.offset, image.data)
        self._erase_ota_data(board)
        return result

    def _erase_ota_data(self, board: BoardConnection) -> None:
        """Blank `otadata`, as ESP-IDF's own flashing does: a board that took a firmware update since its
        last provisioning would otherwise boot that update, not the IEF just written, and never answer."""
        table = next((i for i in self.job.images if i.kind is ImageKind.PARTITION_TABLE), None)
        ota_data = None if table is None else parse_partition_table(table.data).ota_data()
        if ota_data is None:
            return
        with board.step(f"erasing otadata at {ota_data.offset:#x}"):
            board.loader.erase_region(ota_data.offset, ota_data.size)
        self.out.log(f"otadata at {ota_data.offset:#x} erased: the board boots the app just written")

    def _reconnect(self) -> BoardConnection:
        reset = ResetMode(self.job.connect_reset.value)
        return BoardConnection.open(self.job.port, baud=ROM_BAUD, reset=reset, sink=self.out.flash_sink)

    def boot(self, board: BoardConnection | None = None) -> Any:
        """Reset into the flashed firmware and read what the ROM and bootloader say: a board that cannot
        start (refused signature, bad image, flash error, panic, reset loop, silence) fails here, named,
        within seconds, instead of leaving the IEF step to wait out its time. With `board`, its port is
        taken over; without, the port is opened here."""
        limit = self.job.timeouts.boot
        with self._step(Step.BOOT, limit + IEF_WATCHDOG_SLACK) as report:
            if board is None:
                uart = open_uart(self.job.port)
            else:
                uart = prepared_uart(board.hand_over_uart(), self.job.port)
            try:
                with self._wire(uart):
                    reset = reset_into_firmware(uart, self.job.port)
                    if not reset:
                        report.message = "no reset lines on this port; waiting for the board to start"
                        return uart
                    uart = listen_for_boot(uart, self.boot_watch, limit=limit, on_line=self._boot_line)
                watch = self.boot_watch
                reached = "its IEF is asking for data" if watch.talking else "its firmware started"
                report.message = f"reset into the flashed firmware; {reached}"
            except BaseException:
                uart.close()
                raise
        return uart

    def enrol(self, uart: Any) -> None:
        job = self.job
        answers = IefAnswers(
            root_ca_pem=job.instance.root_ca_pem,
            endpoint=job.instance.endpoint,
            port=job.instance.port,
            ssid=job.wifi_ssid,
            password=job.wifi_password,
        )
        limit = job.timeouts.ief + job.timeouts.network + IEF_WATCHDOG_SLACK
        with self._step(Step.IEF, limit) as report, self._wire(uart):
            result = run_ief_session(
                uart,
                answers,
                overall_timeout=job.timeouts.ief,
                request_timeout=job.timeouts.ief,
                network_timeout=job.timeouts.network,
                on_line=self._board_line,
                before_ack=self._journal,
            )
            asked = ", ".join(r.value for r in result.answered) or "nothing (the board kept its settings)"
            report.message = f"answered {asked}; DeviceID {self.device_id}; {self._network_note(result)}"
            report.facts = StepFacts(
                device_id=self.device_id,
                wifi=result.network,
                ssid_sent=IefRequest.WIFI_SSID in result.answered,
                id_check=result.id_check,
                ip=result.ip,
            )

    def _journal(self, device_id: DeviceID) -> None:
        """Before the board hears "OK": the station learns the ID and confirms it saved it. From here on
        every result of this run names the ID, whatever happens to the board."""
        self.device_id = device_id
        self.out.emit(DeviceIdEvent(port=self.job.port, device_id=device_id))
        self.confirm(device_id)

    def _network_note(self, result: IefResult) -> str:
        ssid = self.job.wifi_ssid
        if result.network is NetworkState.JOINED and IefRequest.WIFI_SSID not in result.answered:
            note = (
                f"joined WiFi with the network it had kept (address {result.ip}); it did not ask for one, "
                f"so {ssid!r} was not sent. To change it, erase the board's flash (esptool erase-flash) and "
                "provision it again"
            )
            self.out.log(note, "warning")
            return note
        if result.network is NetworkState.JOINED:
            return f"joined WiFi {ssid!r} (address {result.ip})"
        if result.network is NetworkState.UNCONFIRMED:
            note = (
                f"WiFi {ssid!r} not confirmed: the board printed no address within "
                f"{self.job.timeouts.network:g} s (a release IEF may log nothing)"
            )
            self.out.log(note, "warning")
            return note
        return "WiFi not watched"

    # --- plumbing ------------------------------------------------------------------------------
    @contextmanager
    def _wire(self, uart: Any) -> Iterator[None]:
        """pyserial's errors on the firmware UART, as a person would put them."""
        try:
            yield
        except (serial.SerialException, OSError) as error:
            raise BoardVanishedError(
                f"the board on {self.job.port} went away while talking to its firmware ({error}); "
                "check it is still plugged in, then try again"
            ) from None

    @contextmanager
    def _step(self, step: Step, seconds: float) -> Iterator[StepReport]:
        report = StepReport()
        self.out.step(step, StepStatus.STARTED)
        try:
            with self.guard.limit(step, seconds):
                yield report
        except StationError as error:
            outcome = Outcome.CANCELLED if isinstance(error, FlashCancelledError) else Outcome.FAIL
            self._fail(step, f"{step.value} failed: {error}", type(error).__name__, outcome)
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            text = f"{step.value} failed: internal error ({type(error).__name__}: {error}); please report it"
            self._fail(step, text, "InternalError", Outcome.FAIL)
        self.out.step(step, StepStatus.PASSED, report.message, report.facts)

    def _fail(self, step: Step, message: str, kind: str, outcome: Outcome) -> None:
        self.out.step(step, StepStatus.FAILED, message)
        self.out.error(step, message, kind)
        raise StepFailed(step, message, outcome)

    def _board_line(self, line: IefLine) -> None:
        source = LogSource.BOARD if line.source == "board" else LogSource.ENGINE
        self.out.log(line.text, "info", source)
        if line.source == "board":  # a panic or a reset loop while the IEF runs ends the step at once
            verdict = self.boot_watch.feed(line.text)
            if verdict is not None:
                raise BootFailedError(verdict)

    def _boot_line(self, text: str) -> None:
        self.out.log(text, "info", LogSource.BOARD)

    def _verify_by_readback(self, board: BoardConnection, name: str, offset: int, data: bytes) -> None:
        expected = hashlib.md5(data, usedforsecurity=False).hexdigest()
        actual = board.flash_md5(offset, len(data))
        if actual != expected:
            raise VerifyError(
                f"{name} at {offset:#x} reads back with MD5 {actual}, but {expected} was written; "
                "the flash may be faulty"
            )
        self.out.log(f"{name} verified by reading back its MD5")


def _close_quietly(port: Any) -> None:
    with suppress(serial.SerialException, OSError):
        port.close()


def _identity_facts(identity: ChipIdentity) -> StepFacts:
    security = identity.security
    return StepFacts(
        chip=identity.name,
        chip_type=identity.chip.value if identity.chip is not None else "",
        description=identity.description,
        mac=identity.mac,
        secure_boot=security.secure_boot_enabled if security is not None else None,
        flash_encryption=security.flash_encryption_enabled if security is not None else None,
        key_digests=tuple(security.key_digests) if security is not None else (),
    )
