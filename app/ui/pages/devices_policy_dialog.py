"""Give the selected batch another policy. Its devices already enrolled keep their certificates; the
new policy's terms apply from each device's next enrolment or renewal."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from app.domain.records import Batch
from app.instance.api import Instance
from app.ui.pages.policy_picker import PolicyPicker
from app.ui.widgets.form_dialog import FormDialog


class BatchPolicyDialog(FormDialog):
    changed = Signal(object)  # Batch

    def __init__(self, parent: QWidget | None, instance: Instance, batch: Batch) -> None:
        super().__init__(
            parent,
            f"Policy of {batch.name}",
            "Change policy",
            f"The batch {batch.name!r} has the policy {batch.policy!r}. Devices already enrolled keep "
            "their certificates; the new policy applies from their next enrolment or renewal.",
        )
        self._instance = instance
        self.batch = batch
        self.policy = PolicyPicker(select=batch.policy)
        self.form.addRow("Policy", self.policy)
        self.policy.load(instance, self.show_failure)

    def submit(self) -> None:
        batch, policy, instance = self.batch.name, self.policy.chosen(), self._instance
        self.run(lambda: instance.set_batch_policy(batch, policy), "Changing the policy", self._done)

    def _done(self, batch: Batch) -> None:
        self.batch = batch
        self.changed.emit(batch)
        self.accept()
