"""Create Task: chip, bootloader and IEF variants, signing key, and the catalog images to flash. With
`task=` the same dialog edits an existing task (its name stays; `update_task`).

Images default to the newest catalog image of the right chip, kind and variant (the instance's own
rule, so the default is passed as "no choice" and the instance resolves it). The device type starts at
the chip of the boards plugged in (`attached`, from the Station page), and only signing keys the chip's
Secure Boot V2 can verify are offered; the others are named under the list with the reason. The instance
checks the key again; its refusal is shown inline, word for word. The task's run options (the wait for
enrolment, a fixed flashing rate) are the last two fields.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QWidget

from app.domain.chips import ChipType
from app.domain.errors import ValidationError
from app.domain.kinds import BootloaderKind, IefKind, ImageKind, KeyType
from app.domain.names import validate_name
from app.domain.records import FirmwareImage, ProvisioningTask, SigningKey
from app.domain.run_options import FLASH_BAUDS, MAX_ENROL_WAIT_S, TaskRunOptions
from app.instance.api import Instance
from app.ui.pages.hsm_key_dialog import KEY_TYPE_LABELS, CreateKeyDialog
from app.ui.widgets.form_dialog import FormDialog
from app.workers.background import start_call
from app.workers.listing import Listing, collect

BOOTLOADER_LABELS = {
    BootloaderKind.DEV: "Development (re-flashable)",
    BootloaderKind.RELEASE: "Release (burns eFuses)",
}
IEF_LABELS = {IefKind.DEBUG: "Debug (verbose UART log)", IefKind.NON_DEBUG: "Non-debug"}
AUTO_RATE_LABEL = "Automatic (by the board's USB bridge)"
NO_WAIT_LABEL = "Off (pass when the DeviceID is in the batch)"


def newest(
    images: Sequence[FirmwareImage], chip: ChipType, kind: ImageKind, variant: str
) -> list[FirmwareImage]:
    """Matching images, newest first (the instance's default is the first)."""
    matching = [i for i in images if i.device_type is chip and i.kind is kind and i.variant == variant]
    return sorted(matching, key=lambda i: i.created_at, reverse=True)


def plugged_in_chip(attached: Sequence[ChipType]) -> ChipType | None:
    """The chip most of the plugged-in boards are (None: nothing plugged in, or not known yet)."""
    counted = Counter(attached).most_common(1)
    return counted[0][0] if counted else None


def chip_picker(attached: Sequence[ChipType], chosen: ChipType | None = None) -> QComboBox:
    """Every chip, showing `chosen`, else the chip most plugged-in boards are (issue 13: a dialog defaults
    to what is plugged in, not to the first chip of the list)."""
    picker = QComboBox()
    for chip in ChipType:
        picker.addItem(chip.display_name, chip)
    shown = chosen or plugged_in_chip(attached)
    if shown is not None:
        picker.setCurrentIndex(picker.findData(shown))
    return picker


def unusable_keys_note(chip: ChipType, keys: Sequence[SigningKey]) -> str:
    """Why the keys left out of the list are left out (empty when every key can be used)."""
    left_out = [k for k in keys if k.key_type not in chip.profile.secure_boot_key_types]
    if not left_out:
        return ""
    names = ", ".join(f"{k.name} ({KEY_TYPE_LABELS.get(k.key_type, k.key_type.value)})" for k in left_out)
    allowed = " or ".join(KEY_TYPE_LABELS.get(k, k.value) for k in chip.profile.secure_boot_key_types)
    return f"Not offered: {names}. {chip.display_name} Secure Boot V2 verifies {allowed} keys only."


class CreateTaskDialog(FormDialog):
    created = Signal(object)  # ProvisioningTask

    def __init__(
        self,
        parent: QWidget | None,
        instance: Instance,
        attached: Sequence[ChipType] = (),
        task: ProvisioningTask | None = None,
    ) -> None:
        if task is None:
            super().__init__(parent, "Create provisioning task", "Create task")
        else:
            super().__init__(
                parent,
                f"Edit task {task.name}",
                "Save task",
                "Boards provisioned before keep what they were given; the next runs use the new choices.",
            )
        self.setMinimumWidth(560)
        self._instance = instance
        self.editing = task
        self.task: ProvisioningTask | None = None
        self.images: tuple[FirmwareImage, ...] = ()
        self.keys: tuple[SigningKey, ...] = ()
        self.keys_loaded = False

        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. esp32c3-lab")
        self.device_type = chip_picker(attached, task.device_type if task is not None else None)
        self.device_note = QLabel("")
        self.device_note.setObjectName("hint")
        self.device_note.setWordWrap(True)
        if task is None and plugged_in_chip(attached) is not None:
            boards = len(attached)
            self.device_note.setText(
                f"Chosen from the board{'s' if boards != 1 else ''} plugged in: "
                + ", ".join(f"{n} × {c.display_name}" for c, n in Counter(attached).most_common())
            )
        self.bootloader = QComboBox()
        for kind, label in BOOTLOADER_LABELS.items():
            self.bootloader.addItem(label, kind)
        self.ief = QComboBox()
        for ief, label in IEF_LABELS.items():
            self.ief.addItem(label, ief)
        self.signing_key = QComboBox()
        self.new_key_button = QPushButton("Create new key…")
        self.new_key_button.setAutoDefault(False)
        self.new_key_button.clicked.connect(self.open_key_dialog)
        key_row = QHBoxLayout()
        key_row.addWidget(self.signing_key, 1)
        key_row.addWidget(self.new_key_button)
        self.key_note = QLabel("")
        self.key_note.setObjectName("hint")
        self.key_note.setWordWrap(True)
        self.bootloader_image = QComboBox()
        self.partition_table_image = QComboBox()
        self.ief_image = QComboBox()
        options = task.run_options if task is not None else TaskRunOptions()
        self.enrol_wait = QSpinBox()
        self.enrol_wait.setRange(0, int(MAX_ENROL_WAIT_S))
        self.enrol_wait.setSuffix(" s")
        self.enrol_wait.setSpecialValueText(NO_WAIT_LABEL)
        self.enrol_wait.setValue(round(options.enrol_wait_s))
        self.enrol_wait.setToolTip("After the DeviceID push, how long a run waits for the board to enrol")
        self.flash_baud = QComboBox()
        self.flash_baud.addItem(AUTO_RATE_LABEL, None)
        for rate in FLASH_BAUDS:
            self.flash_baud.addItem(f"{rate:,} baud (falls back once on errors)", rate)
        self.flash_baud.setCurrentIndex(max(self.flash_baud.findData(options.flash_baud), 0))

        if task is not None:
            self.name.setText(task.name)
            self.name.setReadOnly(True)
            self.bootloader.setCurrentIndex(self.bootloader.findData(task.bootloader))
            self.ief.setCurrentIndex(self.ief.findData(task.ief))
        self.form.addRow("Name", self.name)
        self.form.addRow("Device type", self.device_type)
        self.form.addRow("", self.device_note)
        self.device_note.setVisible(bool(self.device_note.text()))
        self.form.addRow("Bootloader", self.bootloader)
        self.form.addRow("IEF", self.ief)
        self.form.addRow("Signing key", key_row)
        self.form.addRow("", self.key_note)
        self.key_note.hide()
        self.form.addRow("Bootloader image", self.bootloader_image)
        self.form.addRow("Partition table", self.partition_table_image)
        self.form.addRow("IEF image", self.ief_image)
        self.form.addRow("Wait for enrolment", self.enrol_wait)
        self.form.addRow("Flashing rate", self.flash_baud)
        for combo in (self.device_type, self.bootloader, self.ief):
            combo.currentIndexChanged.connect(self._fill_images)
        self.device_type.currentIndexChanged.connect(lambda _i: self._fill_keys())
        self.key_dialog: CreateKeyDialog | None = None
        self.load_keys(select=task.signing_key if task is not None else None)
        start_call(
            lambda: collect(instance.list_images),
            "Loading the image catalog",
            self._images_loaded,
            self.show_failure,
            owner=self,
        )

    # --- choices ---------------------------------------------------------------------------------
    def load_keys(self, select: str | None = None) -> None:
        start_call(
            lambda: collect(self._instance.list_signing_keys),
            "Loading the signing keys",
            lambda listing: self._keys_loaded(listing, select),
            self.show_failure,
            owner=self,
        )

    def _keys_loaded(self, listing: Listing[SigningKey], select: str | None) -> None:
        self.keys = listing.items
        self._fill_keys(select)
        self.keys_loaded = True

    def chosen_chip(self) -> ChipType:
        chip = self.device_type.currentData()
        assert isinstance(chip, ChipType)
        return chip

    def _fill_keys(self, select: str | None = None) -> None:
        """Only the keys this chip can verify; the others named, with the reason, under the list."""
        chip = self.chosen_chip()
        current = select or self.signing_key.currentData()
        usable = [k for k in self.keys if k.key_type in chip.profile.secure_boot_key_types]
        self.signing_key.clear()
        for key in usable:
            self.signing_key.addItem(
                f"{key.name}  ({KEY_TYPE_LABELS.get(key.key_type, key.key_type.value)})", key.name
            )
        if not usable:
            empty = (
                "no signing keys yet: create one" if not self.keys else "no key this chip can use: create one"
            )
            self.signing_key.addItem(empty, None)
        index = self.signing_key.findData(current)
        if index < 0:
            index = next((i for i, k in enumerate(usable) if k.key_type is KeyType.RSA_3072), 0)
        self.signing_key.setCurrentIndex(index)
        note = unusable_keys_note(chip, self.keys)
        self.key_note.setText(note)
        self.key_note.setVisible(bool(note))
        self.fit()

    def _images_loaded(self, listing: Listing[FirmwareImage]) -> None:
        self.images = listing.items
        self._fill_images()

    def _fill_images(self) -> None:
        chip, boot, ief = (
            self.device_type.currentData(),
            self.bootloader.currentData(),
            self.ief.currentData(),
        )
        choices = (
            (self.bootloader_image, ImageKind.BOOTLOADER, boot.value),
            (self.partition_table_image, ImageKind.PARTITION_TABLE, ""),
            (self.ief_image, ImageKind.IEF, ief.value),
        )
        for combo, kind, variant in choices:
            combo.clear()
            matching = newest(self.images, chip, kind, variant)
            for position, image in enumerate(matching):
                suffix = "  (newest)" if position == 0 else ""
                combo.addItem(f"{image.name}{suffix}", None if position == 0 else image.name)
            if not matching:
                combo.addItem("no matching image in the catalog", None)
        task = self.editing
        if task is not None and (chip, boot, ief) == (task.device_type, task.bootloader, task.ief):
            for combo, name in (
                (self.bootloader_image, task.bootloader_image),
                (self.partition_table_image, task.partition_table_image),
                (self.ief_image, task.ief_image),
            ):
                index = combo.findData(name)
                if index >= 0:  # not the newest: keep the task's own image, not a newer one
                    combo.setCurrentIndex(index)

    def open_key_dialog(self) -> CreateKeyDialog:
        self.key_dialog = CreateKeyDialog(self, self._instance)
        self.key_dialog.created.connect(lambda key: self.load_keys(select=key.name))
        self.key_dialog.open()
        return self.key_dialog

    # --- create ----------------------------------------------------------------------------------
    def submit(self) -> None:
        try:
            name = validate_name(self.name.text(), "task")
        except ValidationError as exc:
            self.show_problem(str(exc))
            return
        key = self.signing_key.currentData()
        if not key:
            self.show_problem("Choose a signing key, or create one with “Create new key…”.")
            return
        instance = self._instance
        chip, boot, ief = (
            self.device_type.currentData(),
            self.bootloader.currentData(),
            self.ief.currentData(),
        )
        images = (
            self.bootloader_image.currentData(),
            self.partition_table_image.currentData(),
            self.ief_image.currentData(),
        )
        options = self.run_options()
        if self.editing is not None:
            self.run(
                lambda: instance.update_task(name, chip, boot, ief, key, *images, options),
                f"Saving task {name!r}",
                self._done,
            )
            return
        self.run(
            lambda: instance.create_task(name, chip, boot, ief, key, *images, options),
            f"Creating task {name!r}",
            self._done,
        )

    def run_options(self) -> TaskRunOptions:
        return TaskRunOptions(float(self.enrol_wait.value()), self.flash_baud.currentData())

    def _done(self, task: ProvisioningTask) -> None:
        self.task = task
        self.created.emit(task)
        self.accept()
