"""Create a signing key inside the instance: a name and a type, generated in the background.

RSA-3072 generation can take seconds on a slow machine, so the dialog shows a busy bar and keeps the
window responsive. The private key never leaves the instance; the dialog gets the public record back.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QWidget

from app.domain.chips import ChipType
from app.domain.errors import ValidationError
from app.domain.kinds import KeyType
from app.domain.names import validate_name
from app.domain.records import SigningKey
from app.instance.api import Instance
from app.ui.widgets.form_dialog import FormDialog

KEY_TYPE_LABELS = {KeyType.RSA_3072: "RSA-3072", KeyType.ECDSA_P256: "ECDSA P-256"}


def key_type_note(key_type: KeyType) -> str:
    chips = [c.display_name for c in ChipType if key_type in c.profile.secure_boot_key_types]
    if chips:
        return f"Secure Boot V2 on {', '.join(chips)} verifies this key type."
    return "None of the supported chips (ESP32, -C3, -S2, -S3) can verify this key type for Secure Boot V2."


class CreateKeyDialog(FormDialog):
    created = Signal(object)  # SigningKey

    def __init__(
        self, parent: QWidget | None, instance: Instance, key_type: KeyType = KeyType.RSA_3072
    ) -> None:
        super().__init__(
            parent,
            "Create signing key",
            "Create key",
            "The key is generated and kept inside the instance; only its public part is ever shown.",
        )
        self._instance = instance
        self.key: SigningKey | None = None
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. production-2025")
        self.key_type = QComboBox()
        for kind, label in KEY_TYPE_LABELS.items():
            self.key_type.addItem(label, kind)
        self.key_type.setCurrentIndex(self.key_type.findData(key_type))
        self.form.addRow("Name", self.name)
        self.form.addRow("Type", self.key_type)
        self.type_note = QLabel(key_type_note(key_type))
        self.type_note.setObjectName("hint")
        self.type_note.setWordWrap(True)
        self.form.addRow("", self.type_note)
        self.key_type.currentIndexChanged.connect(
            lambda _i: self.type_note.setText(key_type_note(self.chosen_type()))
        )

    def chosen_type(self) -> KeyType:
        kind = self.key_type.currentData()
        assert isinstance(kind, KeyType)
        return kind

    def submit(self) -> None:
        try:
            name = validate_name(self.name.text(), "signing key")
        except ValidationError as exc:
            self.show_problem(str(exc))
            return
        kind = self.chosen_type()
        instance = self._instance
        self.run(lambda: instance.create_signing_key(name, kind), f"Creating key {name!r}", self._done)

    def _done(self, key: SigningKey) -> None:
        self.key = key
        self.created.emit(key)
        self.accept()
