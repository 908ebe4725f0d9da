"""The Firmwares page's dialogs: upload a firmware (signed by an instance key), assign one to a batch.

Files are read and decoded off the GUI thread (an Intel HEX with a bad record is refused there, with its
line); signing keys and batches are loaded off it too. The instance's refusals (another chip's build,
a firmware that fails a batch's attribute filters) are shown inline, where the person can fix them.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QWidget

from app.domain.chips import ChipType
from app.domain.errors import ValidationError
from app.domain.firmware_attributes import (
    describe_filters,
    parse_pair,
    passes,
    unique_keys,
    validate_attributes,
    validate_version,
)
from app.domain.names import validate_name
from app.domain.records import Batch, Firmware, SigningKey
from app.instance.api import Instance
from app.ui.pages.provisioning_task_dialog import chip_picker
from app.ui.widgets.form_dialog import FormDialog, Problem
from app.ui.widgets.image_file_field import ImageFileDialog
from app.workers.background import start_call
from app.workers.listing import Listing, collect


def parse_attributes(text: str) -> tuple[tuple[str, str], ...]:
    """`hw=rev2, region=eu` as typed in the form: comma-separated KEY=VALUE pairs, one value per key."""
    items = [item for item in (part.strip() for part in text.split(",")) if item]
    return unique_keys(validate_attributes([parse_pair(item) for item in items]))


class UploadFirmwareDialog(ImageFileDialog):
    uploaded = Signal(object)  # Firmware

    def __init__(self, parent: QWidget | None, instance: Instance, attached: Sequence[ChipType] = ()) -> None:
        super().__init__(
            parent,
            "Upload firmware",
            "Upload and sign",
            "An unsigned app build (.bin or Intel .hex). The instance checks it and signs it (Secure Boot "
            "V2) with the key you choose, the one the devices' bootloader was signed with.",
            "App images (*.bin *.hex *.ihex);;All files (*)",
        )
        self._instance = instance
        self.firmware: Firmware | None = None
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. sensor-app-2.1.0")
        self.version = QLineEdit()
        self.version.setPlaceholderText("e.g. 2.1.0 (what devices report running it)")
        self.device_type = chip_picker(attached)
        self.attributes = QLineEdit()
        self.attributes.setPlaceholderText("KEY=VALUE, comma-separated, e.g. hw=rev2, region=eu")
        self.key = QComboBox()
        self.key.setPlaceholderText("loading the signing keys…")
        self.form.addRow("File", self.file)
        self.form.addRow("Name", self.name)
        self.form.addRow("Version", self.version)
        self.form.addRow("Device type", self.device_type)
        self.form.addRow("Attributes", self.attributes)
        self.form.addRow("Signing key", self.key)
        start_call(
            lambda: collect(instance.list_signing_keys),
            "Loading the signing keys",
            self._show_keys,
            self.show_failure,
            owner=self,
        )

    def _show_keys(self, listing: Listing[SigningKey]) -> None:
        self.key.clear()
        for key in listing.items:
            self.key.addItem(f"{key.name} ({key.key_type.value})", key.name)
        self.key.setCurrentIndex(0 if listing.items else -1)  # a placeholder keeps the index at -1
        if not listing.items:
            self.key.setPlaceholderText("no signing keys: create one on the HSM page")

    def submit(self) -> None:
        problems: list[Problem] = []
        if self.loaded is None:
            problems.append((self.file_button, "Choose the firmware file first."))
        name = version = ""
        attributes: tuple[tuple[str, str], ...] = ()
        for field, check in (
            (self.name, lambda: validate_name(self.name.text(), "firmware")),
            (self.version, lambda: validate_version(self.version.text())),
        ):
            try:
                value = check()
            except ValidationError as exc:
                problems.append((field, str(exc)))
                continue
            if field is self.name:
                name = value
            else:
                version = value
        try:
            attributes = parse_attributes(self.attributes.text())
        except ValidationError as exc:
            problems.append((self.attributes, str(exc)))
        key = self.key.currentData()
        if not isinstance(key, str):
            problems.append((self.key, "Choose the signing key that signs the firmware."))
        if problems:
            self.show_problems(problems)
            return
        assert self.loaded is not None and isinstance(key, str)
        data, instance, chip = self.loaded.data, self._instance, self.device_type.currentData()
        self.run(
            lambda: instance.upload_firmware(name, version, chip, attributes, data, key),
            f"Uploading and signing {name!r}",
            self._done,
        )

    def _done(self, firmware: Firmware) -> None:
        self.firmware = firmware
        self.uploaded.emit(firmware)
        self.accept()


class AssignFirmwareDialog(FormDialog):
    """Choose the batch whose devices update to `firmware` (the batches' filters are shown beside them)."""

    assigned = Signal(object)  # Batch

    def __init__(self, parent: QWidget | None, instance: Instance, firmware: Firmware) -> None:
        super().__init__(
            parent,
            "Assign firmware to a batch",
            "Assign",
            f"Devices of the batch are offered {firmware.name} (version {firmware.version}) the next "
            "time they report their status, and update to it. Only batches whose attribute filters the "
            "firmware passes are listed.",
        )
        self._instance = instance
        self.firmware = firmware
        self.batch = QComboBox()
        self.batch.setPlaceholderText("loading the batches…")
        self.form.addRow("Batch", self.batch)
        self.hidden = QLabel("")
        self.hidden.setObjectName("hint")
        self.hidden.setWordWrap(True)
        self.form.addRow("", self.hidden)
        start_call(
            lambda: collect(instance.list_batches),
            "Loading the batches",
            self._show_batches,
            self.show_failure,
            owner=self,
        )

    def _show_batches(self, listing: Listing[Batch]) -> None:
        self.batch.clear()
        refused = []
        for batch in listing.items:
            if not passes(batch.attribute_filters, self.firmware.attributes):
                refused.append(f"{batch.name} ({describe_filters(batch.attribute_filters)})")
                continue
            now = f" — now {batch.firmware}" if batch.firmware else ""
            self.batch.addItem(f"{batch.name}{now}", batch.name)
        self.batch.setCurrentIndex(0 if self.batch.count() else -1)
        if refused:
            self.hidden.setText(f"Left out, their filters refuse this firmware: {', '.join(refused)}")
        if self.batch.count() == 0:
            self.batch.setPlaceholderText("no batch takes this firmware")

    def submit(self) -> None:
        batch = self.batch.currentData()
        if not isinstance(batch, str):
            self.show_problem("Choose a batch.", self.batch)
            return
        instance, firmware = self._instance, self.firmware.name
        self.run(
            lambda: instance.set_batch_firmware(batch, firmware),
            f"Assigning {firmware!r} to {batch!r}",
            self._done,
        )

    def _done(self, batch: Batch) -> None:
        self.assigned.emit(batch)
        self.accept()
