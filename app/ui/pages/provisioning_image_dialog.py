"""Import an image into the catalog: a bootloader, partition table or IEF from a .bin or Intel HEX file.

The file is read and decoded in the background (an Intel HEX file with a bad checksum is refused there,
with its line); the instance then checks the image itself (ESP image header, chip, size) and its refusal
is shown inline. The device type starts at the chip the image header names, else at the boards plugged
in; the variant list follows the kind (a partition table has none).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QLineEdit, QWidget

from app.domain.chips import ChipType
from app.domain.errors import ValidationError
from app.domain.kinds import BootloaderKind, IefKind, ImageKind
from app.domain.names import validate_name
from app.domain.records import FirmwareImage
from app.instance.api import Instance
from app.ui.pages.provisioning_task_dialog import chip_picker
from app.ui.widgets.form_dialog import Problem
from app.ui.widgets.image_file_field import ImageFileDialog

KIND_LABELS = {
    ImageKind.BOOTLOADER: "Bootloader",
    ImageKind.PARTITION_TABLE: "Partition table",
    ImageKind.IEF: "IEF (Initial Enrolment Firmware)",
}
VARIANTS = {
    ImageKind.BOOTLOADER: [k.value for k in BootloaderKind],
    ImageKind.PARTITION_TABLE: [""],
    ImageKind.IEF: [k.value for k in IefKind],
}


class ImportImageDialog(ImageFileDialog):
    imported = Signal(object)  # FirmwareImage

    def __init__(self, parent: QWidget | None, instance: Instance, attached: Sequence[ChipType] = ()) -> None:
        super().__init__(
            parent,
            "Import image",
            "Import image",
            "Add your own bootloader, partition table or IEF to the catalog. The instance checks it "
            "(ESP image header, chip, size) before a task can use it.",
            "Images (*.bin *.hex *.ihex);;All files (*)",
        )
        self._instance = instance
        self.image: FirmwareImage | None = None
        self.name = QLineEdit()
        self.name.setPlaceholderText("catalog name (default: the file name)")
        self.device_type = chip_picker(attached)
        self.kind = QComboBox()
        for kind, label in KIND_LABELS.items():
            self.kind.addItem(label, kind)
        self.variant = QComboBox()
        self.kind.currentIndexChanged.connect(lambda _i: self._fill_variants())
        self.form.addRow("File", self.file)
        self.form.addRow("Name", self.name)
        self.form.addRow("Device type", self.device_type)
        self.form.addRow("Kind", self.kind)
        self.form.addRow("Variant", self.variant)
        self._fill_variants()

    def _fill_variants(self) -> None:
        self.variant.clear()
        for variant in VARIANTS[self.kind.currentData()]:
            self.variant.addItem(variant or "none", variant)
        self.variant.setEnabled(self.variant.count() > 1)

    def submit(self) -> None:
        problems: list[Problem] = []
        if self.loaded is None:
            problems.append((self.file_button, "Choose the image file first."))
        name = ""
        try:
            name = validate_name(self.name.text(), "image")
        except ValidationError as exc:
            problems.append((self.name, str(exc)))
        if problems:
            self.show_problems(problems)
            return
        assert self.loaded is not None
        data, instance = self.loaded.data, self._instance
        chip, kind, variant = (
            self.device_type.currentData(),
            self.kind.currentData(),
            self.variant.currentData(),
        )
        self.run(
            lambda: instance.import_image(name, chip, kind, variant, data), f"Importing {name!r}", self._done
        )

    def _done(self, image: FirmwareImage) -> None:
        self.image = image
        self.imported.emit(image)
        self.accept()
