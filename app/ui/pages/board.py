"""Board: one board on the lab bench — what it is, its eFuses, lab actions and its console.

Pick a port and Identify: chip, revision, MAC, flash, crystal, security state, dev (veFuse) or release
build, and this station's records of the board (by MAC); the real eFuses beside the virtual ones of a
veFuse build, differences marked. The lab actions (reset virtual eFuses, erase settings, read flash,
erase flash, re-provision) ask the same policy the CLI asks (app/flashing/bench_policy.py): an action
the chip state forbids is disabled with its reason written under it, and each irreversible one wants
the board's MAC typed. Every board call runs off the GUI thread, with the port reserved, through
app/provisioning/bench_session.py; the console runs in its own session (app/ui/widgets/board_console.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import ConflictError
from app.flashing.bench_policy import (
    why_not_erase_flash,
    why_not_erase_settings,
    why_not_read_flash,
    why_not_reset_vefuses,
)
from app.flashing.board_bench import SETTINGS_LOST, BoardBench, facts_fields
from app.flashing.board_facts import BoardFacts, BuildKind
from app.ports.discovery import PortInfo, list_all_ports
from app.provisioning.bench_session import BoardLook, look_at_board, on_bench, sim_access_point_password
from app.provisioning.events import Event, Outcome, StepEvent, StepStatus
from app.provisioning.job import Redactor
from app.provisioning.job_builder import job_for_request
from app.provisioning.lab_loop import reset_and_provision
from app.provisioning.records import ProvisioningRecord, RecordsDB
from app.provisioning.run_request import RunRequest
from app.provisioning.supervisor import PortSummary
from app.system.paths import DataDir
from app.ui.models.table_model import Column, RecordTableModel
from app.ui.pages.base import Page
from app.ui.pages.board_dialogs import ConfirmBoardDialog, ReadFlashDialog, ReprovisionDialog
from app.ui.pages.context import PageContext
from app.ui.widgets.board_console import BoardConsole
from app.ui.widgets.efuse_table import EfuseTableView
from app.ui.widgets.form_dialog import FormDialog
from app.ui.widgets.page_header import PageHeader

HOLDER = "ql-station Board page"
LOG_POLL_MS = 100

HISTORY_COLUMNS = (
    Column[ProvisioningRecord]("When", lambda r: r.at.strftime("%Y-%m-%d %H:%M")),
    Column[ProvisioningRecord]("Task", lambda r: r.task),
    Column[ProvisioningRecord]("Batch", lambda r: r.batch),
    Column[ProvisioningRecord]("Outcome", lambda r: r.outcome.value),
    Column[ProvisioningRecord]("DeviceID", lambda r: r.device_id[:16], monospace=True),
)


class _Secrets:
    """The WiFi passwords to mask on this page: the simulated network's, and any typed here."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._typed: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: str) -> None:
        with self._lock:
            self._typed.add(secret)

    def __call__(self, text: str) -> str:
        with self._lock:
            known = list(self._typed)
        sim = sim_access_point_password(self._data_dir)
        return Redactor(*known, *([sim] if sim else []))(text)


class _BenchLog:
    """Lines for the page's bench log from any thread; the page takes them on a timer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: list[str] = []

    def add(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)

    def take(self) -> list[str]:
        with self._lock:
            lines, self._lines = self._lines, []
        return lines


class _LoopListener:
    """The re-provision run's steps, as lines in the bench log (password masked)."""

    def __init__(self, log: _BenchLog, mask: Redactor) -> None:
        self._log = log
        self._mask = mask

    def on_event(self, event: Event) -> None:
        if isinstance(event, StepEvent) and event.status is not StepStatus.STARTED:
            word = "ok" if event.status is StepStatus.PASSED else "FAILED"
            self._log.add(self._mask(f"{event.step.value}: {word} {event.message}".rstrip()))

    def on_finished(self, summary: PortSummary) -> None:
        pass


class BoardPage(Page):
    title = "Board"
    icon = "board"
    order = 61  # beside the Station page (60): the lab bench, one board at a time

    def __init__(self, context: PageContext, log_poll_ms: int = LOG_POLL_MS) -> None:
        super().__init__(context)
        self.data_dir = context.data_dir
        self.look: BoardLook | None = None
        self.busy = False
        self.dialog: FormDialog | None = None
        self._secrets = _Secrets(self.data_dir)
        self._log = _BenchLog()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        self.refresh_button = QPushButton("Refresh ports")
        self.refresh_button.clicked.connect(self.refresh)
        layout.addWidget(
            PageHeader(
                "Board",
                "One board on the lab bench: what it is, its eFuses, lab actions and its console.",
                self.refresh_button,
            )
        )
        layout.addLayout(self._port_row())
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._left_column())
        splitter.addWidget(self._right_column())
        splitter.setSizes([470, 770])
        layout.addWidget(splitter, 1)
        self._log_timer = QTimer(self)
        self._log_timer.setInterval(log_poll_ms)
        self._log_timer.timeout.connect(self._drain_log)
        self._log_timer.start()
        self._show_actions(None)

    # ------------------------------------------------------------------ layout
    def _port_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(QLabel("Port"))
        self.port_box = QComboBox()
        self.port_box.setEditable(True)
        self.port_box.setMinimumWidth(420)
        self.port_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        editor = self.port_box.lineEdit()
        if editor is not None:
            editor.setPlaceholderText("a serial port, or rfc2217://… for a virtual board")
        self.port_box.currentTextChanged.connect(self._port_changed)
        row.addWidget(self.port_box, 1)
        self.identify_button = QPushButton("Identify")
        self.identify_button.setObjectName("primary")
        self.identify_button.clicked.connect(self.identify)
        row.addWidget(self.identify_button)
        self.state = QLabel("Pick a port and press Identify.")
        self.state.setObjectName("hint")
        row.addWidget(self.state, 1)
        return row

    def _left_column(self) -> QWidget:
        column = QWidget()
        layout = QVBoxLayout(column)
        layout.setContentsMargins(0, 0, 8, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(column)
        identity = QGroupBox("Identity")
        box = QVBoxLayout(identity)
        self.build_badge = QLabel("")
        self.build_badge.setObjectName("sectionTitle")
        box.addWidget(self.build_badge)
        self.fields = QFormLayout()
        self.fields.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        box.addLayout(self.fields)
        layout.addWidget(identity)
        layout.addWidget(self._actions_box())
        history = QGroupBox("This station's records of the board")
        hbox = QVBoxLayout(history)
        self.history_model = RecordTableModel(HISTORY_COLUMNS, self)
        self.history = QTableView()
        self.history.setModel(self.history_model)
        self.history.verticalHeader().hide()
        self.history.horizontalHeader().setStretchLastSection(True)
        self.history.setMinimumHeight(90)
        self.history.setMaximumHeight(130)
        hbox.addWidget(self.history)
        layout.addWidget(history)
        layout.addStretch(1)
        return scroll

    def _actions_box(self) -> QGroupBox:
        box = QGroupBox("Lab actions")
        grid = QVBoxLayout(box)
        self.reasons: dict[str, QLabel] = {}
        self.buttons: dict[str, QPushButton] = {}
        for key, text, handler in (
            ("reset", "Reset virtual eFuses…", self._ask_reset_vefuses),
            ("reprovision", "Re-provision…", self._ask_reprovision),
            ("settings", "Erase settings…", self._ask_erase_settings),
            ("read", "Read flash to file…", self._ask_read_flash),
            ("erase", "Erase flash…", self._ask_erase_flash),
        ):
            button = QPushButton(text)
            button.clicked.connect(handler)
            button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            button.setMinimumWidth(170)
            reason = QLabel("")
            reason.setObjectName("hint")
            reason.setWordWrap(True)
            reason.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            row = QHBoxLayout()
            row.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
            row.addWidget(reason, 1)
            grid.addLayout(row)
            self.buttons[key], self.reasons[key] = button, reason
        self.bench_log = QPlainTextEdit()
        self.bench_log.setReadOnly(True)
        self.bench_log.setMaximumBlockCount(500)
        self.bench_log.setPlaceholderText("What the lab actions did shows here.")
        self.bench_log.setFixedHeight(80)
        grid.addWidget(self.bench_log)
        return box

    def _right_column(self) -> QWidget:
        self.tabs = QTabWidget()
        efuses = QWidget()
        layout = QVBoxLayout(efuses)
        layout.setContentsMargins(0, 6, 0, 0)
        self.efuse_table = EfuseTableView()
        top = QHBoxLayout()
        self.efuse_note = QLabel("Identify a board to read its eFuses.")
        self.efuse_note.setObjectName("hint")
        self.efuse_note.setWordWrap(True)
        top.addWidget(self.efuse_note, 1)
        top.addWidget(self.efuse_table.differences_only)
        top.addWidget(self.efuse_table.search)
        layout.addLayout(top)
        layout.addWidget(self.efuse_table, 1)
        self.tabs.addTab(efuses, "eFuses")
        self.console = BoardConsole(self.data_dir, self._secrets)
        self.console.error.connect(self.error)
        self.console.saved.connect(lambda path: self.status.emit(f"Console saved to {path}"))
        self.tabs.addTab(self.console, "Serial monitor")
        return self.tabs

    # ------------------------------------------------------------------ ports
    def refresh(self) -> None:
        registry = DataDir(self.data_dir).sim_registry
        self.call(lambda: list_all_ports(registry), "listing serial ports", self._ports_listed)

    def _ports_listed(self, ports: list[PortInfo]) -> None:
        current = self.url
        self.port_box.blockSignals(True)
        self.port_box.clear()
        for port in ports:
            self.port_box.addItem(f"{port.url}  —  {port.description}", port.url)
        self.port_box.blockSignals(False)
        index = self.port_box.findData(current) if current else -1
        if index >= 0:
            self.port_box.setCurrentIndex(index)
        elif current:
            self.port_box.setEditText(current)
        self._port_changed()

    @property
    def url(self) -> str | None:
        data = self.port_box.currentData()
        text = self.port_box.currentText().strip()
        if isinstance(data, str) and text.startswith(data):
            return data
        return text.split()[0] if text else None

    def select_port(self, url: str) -> None:
        index = self.port_box.findData(url)
        if index >= 0:
            self.port_box.setCurrentIndex(index)
        else:
            self.port_box.setEditText(url)

    def _port_changed(self, _text: str = "") -> None:
        url = self.url
        self.console.set_port(url)
        if self.look is not None and self.look.facts.port != url:
            self._show_look(None)
        self._update_enabled()

    # ------------------------------------------------------------------ identify
    def identify(self) -> None:
        url = self.url
        if url is None or self.busy:
            return
        console, data_dir = self.console, self.data_dir

        def look() -> BoardLook:
            console.stop_and_wait()  # the monitor holds the port; the look needs it
            return look_at_board(data_dir, url)

        self._start(f"Identifying the board on {url}…")
        self.call(
            look, f"identifying the board on {url}", self._looked, lambda _f: self._finish("Not identified.")
        )

    def _looked(self, look: BoardLook) -> None:
        self._finish(f"Identified {look.facts.mac or 'a board in secure download mode'}.")
        self._show_look(look)

    def _show_look(self, look: BoardLook | None) -> None:
        self.look = look
        while self.fields.rowCount():
            self.fields.removeRow(0)
        facts = look.facts if look is not None else None
        if look is None or facts is None:
            self.build_badge.setText("No board identified")
            self.efuse_table.show_rows([], False)
            self.efuse_note.setText("Identify a board to read its eFuses.")
            self.history_model.set_records([])
            self._show_actions(None)
            return
        self.build_badge.setText(_badge(facts))
        for label, text in facts_fields(facts):
            value = QLabel(_short_tokens(text))
            value.setToolTip(text)
            value.setWordWrap(True)
            value.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields.addRow(label, value)
        if look.efuses is None:
            self.efuse_table.show_rows([], False)
            self.efuse_note.setText(look.efuses_problem)
        else:
            has_virtual = any(r.virtual is not None for r in look.efuses.rows)
            self.efuse_table.show_rows(look.efuses.rows, has_virtual)
            differing = len(self.efuse_table.model_.differing)
            note = f"{len(look.efuses.rows)} eFuses read with espefuse."
            virtual_note = look.efuses.virtual_note[:1].upper() + look.efuses.virtual_note[1:]
            if has_virtual:
                note += f" {virtual_note}; ≠ marks {differing} that differ from the chip."
            elif virtual_note:
                note += f" {virtual_note}."
            self.efuse_note.setText(note)
        self.history_model.set_records(list(look.history))
        self._show_actions(facts)

    def _show_actions(self, facts: BoardFacts | None) -> None:
        reasons = _refusals(facts)
        for key, reason in reasons.items():
            self.reasons[key].setText(reason or _ALLOWED[key])
            self.reasons[key].setObjectName("problem" if reason else "hint")
            self.reasons[key].style().polish(self.reasons[key])
        self._update_enabled()

    def _update_enabled(self) -> None:
        facts = self.look.facts if self.look is not None else None
        reasons = _refusals(facts)
        for key, button in self.buttons.items():
            button.setEnabled(not self.busy and facts is not None and reasons[key] is None)
        self.identify_button.setEnabled(not self.busy and self.url is not None)

    def _start(self, text: str) -> None:
        self.busy = True
        self.state.setText(text)
        self._update_enabled()

    def _finish(self, text: str) -> None:
        self.busy = False
        self.state.setText(text)
        self._update_enabled()

    # ------------------------------------------------------------------ actions
    def _facts(self) -> BoardFacts:
        assert self.look is not None
        return self.look.facts

    def _done(self, what: str) -> None:
        self._log.add(what)
        self.status.emit(what)

    def _changed(self, what: str) -> None:
        """After an action changed the board: log its sentence, then look at the board again."""
        self._done(what)
        self.identify()

    def _confirm(self, title: str, ok: str, intro: str, run: Callable[[BoardBench, str], str]) -> None:
        facts = self._facts()
        assert facts.mac is not None
        url, data_dir, console = facts.port, self.data_dir, self.console

        def act(typed: str) -> str:
            console.stop_and_wait()

            return on_bench(data_dir, url, HOLDER, lambda bench: run(bench, typed))

        dialog = ConfirmBoardDialog(self, title, ok, intro, facts.mac, act)
        dialog.finished_with.connect(self._changed)
        self._open(dialog)

    def _ask_reset_vefuses(self) -> None:
        mac = self._facts().mac
        self._confirm(
            "Reset virtual eFuses",
            "Reset virtual eFuses",
            f"Erases the efuse_em partition of {mac}: its virtual Secure Boot state and key digest are "
            "lost, so the board can be provisioned with another key. The chip's real eFuses are not "
            "touched. The board is left in download mode for its next provisioning.",
            BoardBench.reset_vefuses,
        )

    def _ask_erase_settings(self) -> None:
        mac = self._facts().mac
        self._confirm(
            "Erase settings",
            "Erase settings",
            f"Erases the nvs partition of {mac}. Lost: {SETTINGS_LOST}.",
            BoardBench.erase_settings,
        )

    def _ask_erase_flash(self) -> None:
        mac = self._facts().mac
        self._confirm(
            "Erase flash",
            "Erase the whole flash",
            f"Erases all of the flash of {mac}: bootloader, IEF, settings and enrolment key. The board "
            "does nothing until it is provisioned again.",
            BoardBench.erase_flash,
        )

    def _ask_read_flash(self) -> None:
        facts = self._facts()
        url, data_dir, console = facts.port, self.data_dir, self.console

        def read(offset: int, size: int, path: Path) -> str:
            console.stop_and_wait()
            data = on_bench(data_dir, url, HOLDER, lambda bench: bench.read_flash(offset, size))
            path.write_bytes(data)
            return f"read {len(data)} bytes at {offset:#x} from {facts.mac} into {path}"

        dialog = ReadFlashDialog(self, read)
        dialog.finished_with.connect(self._done)
        self._open(dialog)

    def _ask_reprovision(self) -> None:
        facts = self._facts()
        assert facts.mac is not None
        url, data_dir, console, instance = facts.port, self.data_dir, self.console, self.instance
        log, secrets = self._log, self._secrets

        def loop(task: str, batch: str, ssid: str, password: str, typed: str) -> str:
            secrets.add(password)
            console.stop_and_wait()
            job = job_for_request(instance, RunRequest(task, batch, ssid, password)).for_port(url)
            listener = _LoopListener(log, Redactor(password))
            with RecordsDB(DataDir(data_dir).records_db) as records:
                outcome = reset_and_provision(data_dir, instance, records, job, typed, listener, log.add)
            summary = outcome.summary
            if summary is None or summary.outcome is not Outcome.PASS:
                reason = summary.message if summary is not None else "the run reported no result"
                raise ConflictError(f"the virtual eFuses were reset, but provisioning failed: {reason}")
            return f"re-provisioned {facts.mac} with {task}: DeviceID {summary.device_id}"

        dialog = ReprovisionDialog(self, instance, facts.mac, loop)
        dialog.finished_with.connect(self._changed)
        self._open(dialog)

    def _open(self, dialog: FormDialog) -> None:
        self.dialog = dialog
        dialog.finished.connect(lambda _result: setattr(self, "dialog", None))
        dialog.open()

    def _drain_log(self) -> None:
        lines = self._log.take()
        if lines:
            self.bench_log.appendPlainText("\n".join(lines))

    def quit_question(self) -> str | None:
        if self.dialog is not None and self.dialog.busy:
            return (
                "A lab action is still running on the Board page; closing now can leave the board "
                "half-written (it can be provisioned again afterwards)."
            )
        return None

    def shutdown(self) -> None:
        self._log_timer.stop()
        self.console.stop_and_wait()


_ALLOWED = {
    "reset": "Erases efuse_em, so the board takes another key.",
    "reprovision": "Reset virtual eFuses, then provision with a dev task.",
    "settings": "Forgets WiFi, instance settings and the enrolment key.",
    "read": "Copies a flash region into a file.",
    "erase": "Erases all of the flash.",
}


def _refusals(facts: BoardFacts | None) -> dict[str, str | None]:
    if facts is None:
        return {key: None for key in _ALLOWED}
    reset = why_not_reset_vefuses(facts)
    return {
        "reset": reset,
        "reprovision": "re-provisioning is refused: it starts by resetting the virtual eFuses (see above)"
        if reset
        else None,
        "settings": why_not_erase_settings(facts),
        "read": why_not_read_flash(facts, 0, 0x1000),
        "erase": why_not_erase_flash(facts),
    }


def _short_tokens(text: str, keep: int = 12) -> str:
    """Long unbreakable words (key digests) shortened for the form; the tooltip has them whole."""
    words = [w if len(w) <= 3 * keep else f"{w[:keep]}…{w[-keep // 2 :]}" for w in text.split(" ")]
    return " ".join(words)


def _badge(facts: BoardFacts) -> str:
    if facts.build is BuildKind.DEV:
        return "Dev build (virtual eFuses)"
    if facts.build is BuildKind.RELEASE:
        return "Release build"
    if facts.build is BuildKind.EMPTY:
        return "Empty board (nothing flashed)"
    return "Build unknown"
