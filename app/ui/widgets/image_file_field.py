"""A form row that picks an image file (.bin or Intel .hex) and reads it off the GUI thread.

Used wherever a person gives the station an image: the image catalog's Import and the Firmwares page's
Upload. Reading and decoding happen in the background (an Intel HEX with a bad record is refused there,
with its line); the row then says what was read and which chip the image header names, and the dialog
decides what to do with it (`read`), or shows the reason it could not be read (`failed`).
`ImageFileDialog` is the form dialog both build on.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from app.domain.chips import ChipType
from app.flashing.image_file import LoadedImage, load_image_file
from app.ui.models.formatting import plural
from app.ui.widgets.form_dialog import FormDialog
from app.workers.background import CallFailure, start_call

IMAGE_HEADER_CHIP_ID = slice(12, 14)  # the extended header's chip id, little-endian, after the 8-byte header


def header_chip(data: bytes) -> ChipType | None:
    """The chip an ESP image says it is for (None for a partition table or an unreadable header)."""
    if len(data) < 24 or data[0] != 0xE9:
        return None
    return ChipType.from_image_chip_id(int.from_bytes(data[IMAGE_HEADER_CHIP_ID], "little"))


class ImageFileField(QWidget):
    read = Signal(object, object)  # Path, LoadedImage
    failed = Signal(object)  # CallFailure

    def __init__(self, title: str, filters: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.filters = filters
        self.loaded: LoadedImage | None = None
        self.button = QPushButton("Choose file…")
        self.button.setAutoDefault(False)
        self.button.clicked.connect(self.choose)
        self.label = QLabel("no file chosen (.bin or Intel .hex)")
        self.label.setObjectName("hint")
        self.label.setWordWrap(True)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.button)
        row.addWidget(self.label, 1)

    def choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.title, "", self.filters)
        if path:
            self.load_file(Path(path))

    def load_file(self, path: Path) -> None:
        """Read and decode in the background; the result replaces any earlier file."""
        self.loaded = None
        self.button.setEnabled(False)
        self.label.setText(f"reading {path.name}…")
        start_call(
            lambda: load_image_file(path),
            f"Reading {path.name}",
            lambda loaded: self._read(path, loaded),
            lambda failure: self._failed(path, failure),
            owner=self,
        )

    def _failed(self, path: Path, failure: CallFailure) -> None:
        self.button.setEnabled(True)
        self.label.setText(f"{path.name} could not be read")
        self.failed.emit(failure)

    def _read(self, path: Path, loaded: LoadedImage) -> None:
        self.button.setEnabled(True)
        self.loaded = loaded
        chip = header_chip(loaded.data)
        said = f", its header says {chip.display_name}" if chip is not None else ""
        self.label.setText(f"{path.name}: {plural(len(loaded.data), 'byte')} ({loaded.source_format}){said}")
        self.read.emit(path, loaded)


class ImageFileDialog(FormDialog):
    """A form dialog whose first row is an `ImageFileField`; subclasses add `name` and `device_type`.

    When the file is read, the device type follows the chip its header names and an empty name takes
    the file's stem; a file that cannot be read is a problem on the file row."""

    name: QLineEdit
    device_type: QComboBox

    def __init__(self, parent: QWidget | None, title: str, ok_text: str, intro: str, filters: str) -> None:
        super().__init__(parent, title, ok_text, intro)
        self.file = ImageFileField(title, filters)
        self.file_button, self.file_label = self.file.button, self.file.label
        self.file.read.connect(self._file_read)
        self.file.failed.connect(lambda failure: self.show_problem(failure.message, self.file_button))

    @property
    def loaded(self) -> LoadedImage | None:
        return self.file.loaded

    def load_file(self, path: Path) -> None:
        self.file.load_file(path)

    def _file_read(self, path: Path, loaded: LoadedImage) -> None:
        self.field_edited(self.file_button)
        chip = header_chip(loaded.data)
        if chip is not None:
            self.device_type.setCurrentIndex(self.device_type.findData(chip))
        if not self.name.text().strip():
            self.name.setText(path.stem)
        QTimer.singleShot(0, self, self.fit)  # the file's line may wrap: grow once it is laid out
