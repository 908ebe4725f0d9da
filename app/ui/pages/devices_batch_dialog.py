"""Create Batch (a name, a policy picked from the instance's, and DeviceIDs typed one by one or read
from a JSON file), and the same dialog adding devices to an existing batch (`batch=`: no name or policy
to give).

Nothing reaches the instance until the person presses "Create batch": a file is read and checked in
the background first, and a bad file's problems are listed line by line in the dialog (each with its
line and device number, counted from 1) so the person can fix the file and load it again. A batch is
never created while a rejected file is loaded: the person fixes the file or forgets it, so nobody ends up
with a batch of only the typed IDs believing the file's were in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QWidget,
)

from app.domain.batch_file import BatchFileError, parse_batch_file
from app.domain.device_id import DeviceID, parse_device_id
from app.domain.errors import ValidationError
from app.domain.names import validate_name
from app.domain.records import AddDevicesResult, Batch
from app.instance.api import Instance
from app.ui.models.formatting import count, plural
from app.ui.pages.policy_picker import PolicyPicker
from app.ui.style import DOWN
from app.ui.widgets.form_dialog import FormDialog, Problem
from app.workers.background import CallFailure, start_call


@dataclass(frozen=True)
class FileOutcome:
    """A batch file read on a worker: its IDs, or the reasons it was rejected."""

    name: str
    ids: tuple[DeviceID, ...] = ()
    problems: tuple[str, ...] = ()
    total_problems: int = 0


def read_batch_file(path: Path) -> FileOutcome:
    """Runs on a worker thread: reading and checking a million IDs takes a moment."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return FileOutcome(
            path.name, problems=(f"cannot read the file: {exc.strerror or exc}",), total_problems=1
        )
    try:
        ids = parse_batch_file(data, source=path.name)
    except BatchFileError as exc:
        return FileOutcome(
            path.name, problems=tuple(str(p) for p in exc.problems), total_problems=exc.total_problems
        )
    return FileOutcome(path.name, ids=tuple(ids))


class CreateBatchDialog(FormDialog):
    created = Signal(object, object)  # Batch, AddDevicesResult | None

    def __init__(self, parent: QWidget | None, instance: Instance, batch: str | None = None) -> None:
        action = "Create batch" if batch is None else "Add devices"
        super().__init__(
            parent,
            "Create batch" if batch is None else f"Add devices to {batch}",
            action,
            'Add DeviceIDs one at a time, or load a JSON file {"devices": ["<64 hex>", …]}. '
            f"Nothing is {'created' if batch is None else 'added'} until you press {action}.",
        )
        self.setMinimumWidth(640)
        self._instance = instance
        self.existing = batch
        self.typed_ids: list[DeviceID] = []
        self.file: FileOutcome | None = None
        self.rejected_file: str | None = None  # the name of a file that was rejected and not forgotten
        self.batch: Batch | None = None

        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. line-2 March")
        self.policy = PolicyPicker()
        if batch is None:
            self.form.addRow("Name", self.name)
            self.form.addRow("Policy", self.policy)
            self.policy.load(instance, self.show_failure)
        else:
            self.name.setText(batch)
            self.name.hide()
            self.policy.hide()

        self.id_input = QLineEdit()
        self.id_input.setPlaceholderText("DeviceID: 64 hexadecimal characters")
        self.id_input.textChanged.connect(self._check_typed_id)
        self.id_input.returnPressed.connect(self.add_typed_id)
        self.add_button = QPushButton("Add")
        self.add_button.setEnabled(False)
        self.add_button.setAutoDefault(False)
        self.add_button.clicked.connect(self.add_typed_id)
        row = QHBoxLayout()
        row.addWidget(self.id_input, 1)
        row.addWidget(self.add_button)
        self.form.addRow("Device ID", row)
        self.id_problem = QLabel("")
        self.id_problem.setObjectName("hint")
        self.form.addRow("", self.id_problem)

        self.id_list = QListWidget()
        self.id_list.setMaximumHeight(110)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setAutoDefault(False)
        self.remove_button.clicked.connect(self._remove_selected)
        self.form.addRow("Typed IDs", self.id_list)
        self.form.addRow("", self.remove_button)

        self.file_button = QPushButton("From JSON file…")
        self.file_button.setAutoDefault(False)
        self.file_button.clicked.connect(self._choose_file)
        self.file_label = QLabel("no file loaded")
        self.file_label.setObjectName("hint")
        self.file_label.setWordWrap(True)
        self.forget_button = QPushButton("Forget the file")
        self.forget_button.setAutoDefault(False)
        self.forget_button.setToolTip("Go on without the file: only the typed IDs are added")
        self.forget_button.clicked.connect(self.forget_file)
        self.forget_button.hide()
        row = QHBoxLayout()
        row.addWidget(self.file_button)
        row.addWidget(self.file_label, 1)
        row.addWidget(self.forget_button)
        self.form.addRow("File", row)

        self.problems_title = QLabel("")
        self.problems_title.setObjectName("problem")
        self.problems = QListWidget()
        self.problems.setMaximumHeight(150)
        self.extra.addWidget(self.problems_title)
        self.extra.addWidget(self.problems)
        self.problems_title.hide()
        self.problems.hide()
        self.summary = QLabel("")
        self.extra.addWidget(self.summary)
        self.ok_button.setAutoDefault(False)
        self._update_summary()

    # --- typed IDs -------------------------------------------------------------------------------
    def _check_typed_id(self, text: str) -> DeviceID | None:
        """Say what is wrong with the ID being typed; the ID when it can be added."""
        device_id: DeviceID | None = None
        if not text.strip():
            message, bad = "", False
        else:
            try:
                device_id = parse_device_id(text)
            except ValidationError as exc:
                message, bad = str(exc), True
            else:
                bad = device_id in self.typed_ids
                message = "already in the list" if bad else "valid DeviceID — press Enter or Add"
        self.id_problem.setText(message)
        self.id_problem.setStyleSheet(f"color: {DOWN};" if bad else "")
        self.add_button.setEnabled(device_id is not None and not bad)
        return None if bad else device_id

    def add_typed_id(self) -> bool:
        device_id = self._check_typed_id(self.id_input.text())
        if device_id is None:
            return False
        self.typed_ids.append(device_id)
        self.id_list.addItem(device_id)
        self.id_input.clear()
        self._update_summary()
        return True

    def _remove_selected(self) -> None:
        for item in self.id_list.selectedItems():
            self.typed_ids.remove(DeviceID(item.text()))
            self.id_list.takeItem(self.id_list.row(item))
        self._update_summary()

    # --- file ------------------------------------------------------------------------------------
    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Load DeviceIDs", "", "Batch files (*.json);;All files (*)"
        )
        if path:
            self.load_file(Path(path))

    def load_file(self, path: Path) -> None:
        """Read and check `path` in the background; the result replaces any earlier file."""
        self.file = None
        self.rejected_file = None
        self.file_label.setText(f"reading {path.name}…")
        self.file_button.setEnabled(False)
        self.ok_button.setEnabled(False)
        start_call(
            lambda: read_batch_file(path),
            f"Reading {path.name}",
            self._file_read,
            self._file_failed,
            owner=self,
        )

    def _file_failed(self, failure: CallFailure) -> None:
        self._file_read(FileOutcome("file", problems=(failure.message,), total_problems=1))

    def _file_read(self, outcome: FileOutcome) -> None:
        self.file_button.setEnabled(True)
        self.ok_button.setEnabled(not self.busy)
        self.problems.clear()
        if outcome.problems:
            self.file = None
            self.rejected_file = outcome.name
            self.file_label.setText(f"{outcome.name} was rejected; nothing from it will be imported")
            self.problems_title.setText(f"{outcome.name}: {plural(outcome.total_problems, 'problem')}")
            self.problems.addItems(list(outcome.problems))
            if outcome.total_problems > len(outcome.problems):
                self.problems.addItem(f"… and {outcome.total_problems - len(outcome.problems)} more")
        else:
            self.file = outcome
            self.file_label.setText(f"{outcome.name}: {plural(len(outcome.ids), 'DeviceID')} ready")
        self.problems_title.setVisible(bool(outcome.problems))
        self.problems.setVisible(bool(outcome.problems))
        self.forget_button.setVisible(bool(outcome.problems))
        self.field_edited(self.file_button)
        self._update_summary()
        self.fit()

    def forget_file(self) -> None:
        """Drop a loaded or rejected file; the batch is then made from the typed IDs alone."""
        self.file = None
        self.rejected_file = None
        self.file_label.setText("no file loaded")
        self.problems.clear()
        self.problems_title.hide()
        self.problems.hide()
        self.forget_button.hide()
        self.field_edited(self.file_button)
        self._update_summary()

    # --- create ----------------------------------------------------------------------------------
    def all_ids(self) -> list[DeviceID]:
        return [*self.typed_ids, *(self.file.ids if self.file else ())]

    def _update_summary(self) -> None:
        typed, from_file = len(self.typed_ids), len(self.file.ids) if self.file else 0
        what = "The batch will start with" if self.existing is None else f"{self.existing} will get"
        self.summary.setText(
            f"{what} {plural(typed + from_file, 'device')} "
            f"({count(typed)} typed, {count(from_file)} from the file)."
        )

    def submit(self) -> None:
        problems: list[Problem] = []
        name = ""
        policy = self.policy.chosen()
        try:
            name = validate_name(self.name.text(), "batch")
        except ValidationError as exc:
            problems.append((self.name, str(exc)))
        if self.rejected_file is not None:
            problems.append(
                (
                    self.file_button,
                    f"{self.rejected_file} was rejected, so none of its DeviceIDs would be in the batch: "
                    "fix the file and load it again, or press Forget the file to go on with the typed IDs "
                    "only",
                )
            )
        if problems:
            self.show_problems(problems)
            return
        ids = self.all_ids()
        instance = self._instance
        existing = self.existing
        if existing is not None:
            if not ids:
                self.show_problem(
                    "Type a DeviceID or load a file first: there is nothing to add.", self.id_input
                )
                return

            def add() -> tuple[Batch, AddDevicesResult | None]:
                result = instance.add_devices(existing, ids)
                return instance.get_batch(existing), result

            self.run(add, f"Adding devices to {existing}", self._done)
            return

        def create() -> tuple[Batch, AddDevicesResult | None]:
            batch = instance.create_batch(name, policy)
            return batch, (instance.add_devices(batch.name, ids) if ids else None)

        self.run(create, "Creating the batch", self._done)

    def _done(self, outcome: tuple[Batch, AddDevicesResult | None]) -> None:
        self.batch = outcome[0]
        self.created.emit(*outcome)
        self.accept()
