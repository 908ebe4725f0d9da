"""A list of the instance's policies, each shown with its terms, for a batch to pick one.

It holds the default policy from the start, so a dialog works before (or without) the listing; the
listing is loaded off the GUI thread and keeps the person's choice, or the one asked for, when it comes.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QComboBox, QWidget

from app.domain.records import Policy
from app.instance.api import DEFAULT_POLICY, Instance
from app.ui.models.formatting import plural
from app.workers.background import CallFailure, start_call
from app.workers.listing import Listing, collect


def policy_label(policy: Policy) -> str:
    renew = "auto-renew" if policy.auto_renew else "no auto-renew"
    return f"{policy.name}  ({plural(policy.certificate_days, 'day')}, {renew})"


class PolicyPicker(QComboBox):
    def __init__(self, parent: QWidget | None = None, select: str = DEFAULT_POLICY) -> None:
        super().__init__(parent)
        self.addItem(select, select)
        self.loaded = False

    def load(self, instance: Instance, on_failure: Callable[[CallFailure], None]) -> None:
        def listing() -> Listing[Policy]:
            return collect(instance.list_policies)

        start_call(listing, "Loading the policies", self._fill, on_failure, owner=self)

    def chosen(self) -> str:
        return str(self.currentData() or DEFAULT_POLICY)

    def _fill(self, listing: Listing[Policy]) -> None:
        chosen = self.currentData()
        self.clear()
        for policy in listing.items:
            self.addItem(policy_label(policy), policy.name)
        self.setCurrentIndex(max(self.findData(chosen), 0))
        self.loaded = True
