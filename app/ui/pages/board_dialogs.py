"""The Board page's dialogs: a typed confirmation naming the board, read flash to a file, the lab loop.

Each runs its board call itself (off the GUI thread, through FormDialog.run), so a refusal — the
wrong MAC typed, a chip state that forbids the action — is shown inline where the person is looking,
and the dialog stays open to correct it. The page passes the call in; the dialogs know no board code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLineEdit, QPushButton, QWidget

from app.domain.errors import ValidationError
from app.domain.kinds import BootloaderKind
from app.domain.records import Batch, PageRequest, ProvisioningTask
from app.flashing.board_bench import parse_size
from app.instance.api import Instance
from app.ui.widgets.form_dialog import FormDialog
from app.workers.background import start_call

LISTING = PageRequest(limit=500)


def _same_mac(typed: str, mac: str) -> bool:
    return typed.strip().lower().replace("-", ":") == mac.lower()


class ConfirmBoardDialog(FormDialog):
    """Type the board's MAC to confirm an irreversible action; the action's sentence is emitted."""

    finished_with = Signal(str)

    def __init__(
        self,
        parent: QWidget | None,
        title: str,
        ok_text: str,
        intro: str,
        mac: str,
        action: Callable[[str], str],
    ) -> None:
        super().__init__(parent, title, ok_text, intro)
        self._mac = mac
        self._action = action
        self.typed = QLineEdit()
        self.typed.setPlaceholderText(mac)
        self.form.addRow("Type the board's MAC", self.typed)
        self.ok_button.setEnabled(False)
        self.typed.textChanged.connect(lambda text: self.ok_button.setEnabled(_same_mac(text, mac)))

    def submit(self) -> None:
        typed = self.typed.text()
        if not _same_mac(typed, self._mac):
            self.show_problem(f"That is not this board's MAC ({self._mac}).")
            return
        action = self._action
        self.run(lambda: action(typed), self.windowTitle(), self._done)

    def _done(self, message: str) -> None:
        self.finished_with.emit(message)
        self.accept()


class ReadFlashDialog(FormDialog):
    """A flash region to a file (a backup before an experiment)."""

    finished_with = Signal(str)

    def __init__(self, parent: QWidget | None, action: Callable[[int, int, Path], str]) -> None:
        super().__init__(
            parent,
            "Read flash to file",
            "Read",
            "Copies a region of the board's flash into a file on this PC.",
        )
        self._action = action
        self.offset_edit = QLineEdit("0x0")
        self.size_edit = QLineEdit("4M")
        self.file = QLineEdit()
        self.file.setPlaceholderText("backup.bin")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.file, 1)
        row.addWidget(browse)
        holder = QWidget()
        holder.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        self.form.addRow("Offset", self.offset_edit)
        self.form.addRow("Size", self.size_edit)
        self.form.addRow("File", holder)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Read flash to", "flash-backup.bin", "Binary (*.bin)")
        if path:
            self.file.setText(path)

    def submit(self) -> None:
        try:
            offset = parse_size(self.offset_edit.text(), "the offset")
            size = parse_size(self.size_edit.text(), "the size")
        except ValidationError as exc:
            self.show_problem(str(exc))
            return
        text = self.file.text().strip()
        if not text:
            self.show_problem("Name the file to write.")
            return
        path = Path(text).expanduser()
        if path.is_dir() or not path.parent.is_dir():
            self.show_problem(f"{path} is a folder, or its folder does not exist.")
            return
        action = self._action
        self.run(lambda: action(offset, size, path), "Reading flash", self._done)

    def _done(self, message: str) -> None:
        self.finished_with.emit(message)
        self.accept()


class ReprovisionDialog(FormDialog):
    """The lab loop: reset the virtual eFuses, then provision with a dev task, in one action."""

    finished_with = Signal(str)

    def __init__(
        self,
        parent: QWidget | None,
        instance: Instance,
        mac: str,
        action: Callable[[str, str, str, str, str], str],
    ) -> None:
        super().__init__(
            parent,
            "Re-provision this board",
            "Reset and provision",
            f"Erases the virtual eFuses of {mac}, then provisions it with the task chosen here: the lab "
            "loop for cycling keys and images on one dev (veFuse) board. Only dev tasks are offered; "
            "flash sectors that already hold the right bytes are not written again.",
        )
        self._mac = mac
        self._action = action
        self.task = QComboBox()
        self.batch = QComboBox()
        self.ssid = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.typed = QLineEdit()
        self.typed.setPlaceholderText(mac)
        self.form.addRow("Task (dev)", self.task)
        self.form.addRow("Batch", self.batch)
        self.form.addRow("WiFi network", self.ssid)
        self.form.addRow("WiFi password", self.password)
        self.form.addRow("Type the board's MAC", self.typed)
        start_call(
            lambda: (instance.list_tasks(LISTING).items, instance.list_batches(LISTING).items),
            "listing tasks and batches",
            self._listed,
            self.show_failure,
            owner=self,
        )

    def _listed(self, listing: tuple[Sequence[ProvisioningTask], Sequence[Batch]]) -> None:
        tasks, batches = listing
        for task in tasks:
            if task.bootloader is BootloaderKind.DEV:
                self.task.addItem(task.name)
        for batch in batches:
            self.batch.addItem(batch.name)
        if self.task.count() == 0:
            self.show_problem("There is no dev (veFuse) task: create one on the Provisioning page.")

    def submit(self) -> None:
        task, batch, ssid = self.task.currentText(), self.batch.currentText(), self.ssid.text().strip()
        if not task or not batch or not ssid:
            self.show_problem("Choose a dev task and a batch, and name the WiFi network.")
            return
        typed = self.typed.text()
        if not _same_mac(typed, self._mac):
            self.show_problem(f"Type this board's MAC ({self._mac}) to confirm.")
            return
        password = self.password.text()
        action = self._action
        self.run(lambda: action(task, batch, ssid, password, typed), "Re-provisioning", self._done)

    def _done(self, message: str) -> None:
        self.password.clear()
        self.finished_with.emit(message)
        self.accept()
