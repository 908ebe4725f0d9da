"""Create or edit a policy (its terms), and delete one, refused inline while batches use it.

The edit dialog shows the policy's current terms and sends them all; the name of an existing policy
cannot change, since batches name their policy. The delete dialog leaves the judgement to the
instance: its refusal names the batches that still use the policy, shown where the person is looking.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox, QWidget

from app.domain.errors import ValidationError
from app.domain.kinds import ConnectionType
from app.domain.names import validate_name
from app.domain.records import Policy
from app.instance.api import (
    DEFAULT_CERTIFICATE_DAYS,
    DEFAULT_JWT_MINUTES,
    MAX_CERTIFICATE_DAYS,
    MAX_JWT_MINUTES,
    Instance,
)
from app.ui.models.formatting import plural
from app.ui.widgets.form_dialog import FormDialog

CONNECTION_LABELS = {
    ConnectionType.NONE: "None",
    ConnectionType.IOT_HUB: "IoT hub (recorded; configured in a later release)",
    ConnectionType.DATABASE_DIRECT: "Database Direct (recorded; configured in a later release)",
}


class PolicyDialog(FormDialog):
    """`policy=None` creates a policy; a policy given is edited."""

    saved = Signal(object)  # Policy

    def __init__(self, parent: QWidget | None, instance: Instance, policy: Policy | None = None) -> None:
        super().__init__(
            parent,
            "Create policy" if policy is None else f"Edit policy {policy.name}",
            "Create policy" if policy is None else "Save",
            "The terms a batch's devices enrol under. Devices already enrolled keep their certificates; "
            "changed terms apply from their next enrolment or renewal.",
        )
        self._instance = instance
        self.editing = policy
        self.policy: Policy | None = None
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. factory-2025")
        self.connection = QComboBox()
        for kind, label in CONNECTION_LABELS.items():
            self.connection.addItem(label, kind)
        self.certificate_days = QSpinBox()
        self.certificate_days.setRange(1, MAX_CERTIFICATE_DAYS)
        self.certificate_days.setSuffix(" days")
        self.certificate_days.setValue(DEFAULT_CERTIFICATE_DAYS)
        self.auto_renew = QCheckBox("Devices renew their certificate before it runs out")
        self.auto_renew.setChecked(True)
        self.jwt_minutes = QSpinBox()
        self.jwt_minutes.setRange(1, MAX_JWT_MINUTES)
        self.jwt_minutes.setSuffix(" minutes")
        self.jwt_minutes.setValue(DEFAULT_JWT_MINUTES)
        if policy is not None:
            self.name.setText(policy.name)
            self.name.setReadOnly(True)
            self.name.setToolTip("Batches name their policy, so a policy keeps its name")
            self.connection.setCurrentIndex(self.connection.findData(policy.connection))
            self.certificate_days.setValue(policy.certificate_days)
            self.auto_renew.setChecked(policy.auto_renew)
            self.jwt_minutes.setValue(policy.jwt_minutes)
        self.form.addRow("Name", self.name)
        self.form.addRow("Type of connection", self.connection)
        self.form.addRow("Device-certificate lifetime", self.certificate_days)
        self.form.addRow("Auto-renew", self.auto_renew)
        self.form.addRow("JWT lifetime", self.jwt_minutes)

    def submit(self) -> None:
        try:
            name = validate_name(self.name.text(), "policy")
        except ValidationError as exc:
            self.show_problem(str(exc), self.name)
            return
        connection = self.connection.currentData()
        days, jwt = self.certificate_days.value(), self.jwt_minutes.value()
        renew = self.auto_renew.isChecked()
        instance = self._instance
        if self.editing is None:
            self.run(
                lambda: instance.create_policy(name, connection, days, renew, jwt),
                "Creating the policy",
                self._done,
            )
        else:
            self.run(
                lambda: instance.update_policy(name, connection, days, renew, jwt),
                "Saving the policy",
                self._done,
            )

    def _done(self, policy: Policy) -> None:
        self.policy = policy
        self.saved.emit(policy)
        self.accept()


class DeletePolicyDialog(FormDialog):
    deleted = Signal(str)  # the policy's name

    def __init__(self, parent: QWidget | None, instance: Instance, policy: Policy) -> None:
        used = (
            f" It is used by {plural(policy.batches, 'batch')}: give "
            f"{'it' if policy.batches == 1 else 'them'} another policy first."
            if policy.batches
            else ""
        )
        super().__init__(
            parent,
            "Delete policy",
            "Delete policy",
            f"Delete the policy {policy.name!r}? Batches can no longer pick it.{used}",
        )
        self._instance = instance
        self.policy = policy

    def submit(self) -> None:
        name, instance = self.policy.name, self._instance
        self.run(lambda: instance.delete_policy(name), "Deleting the policy", self._done)

    def _done(self, _none: None) -> None:
        self.deleted.emit(self.policy.name)
        self.accept()
