"""Settings → Instance: which instance this station works with, and pairing with a served one.

Pairing is two steps a person can follow: "Fetch fingerprint" asks the server for its root CA and shows
its SHA-256 fingerprint (to compare with the one `ql-station serve` printed); "Confirm and pair" runs
the same `pair()` as `ql-station instance connect --fingerprint`, with the fingerprint shown, so the
server must still offer that very CA and prove it holds a certificate from it. Every network call runs
off the GUI thread. The choice takes effect at the next start, when the station signs in to it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.records import InstanceInfo
from app.instance.remote import pairing
from app.instance.remote.pairing import Pairing, RootCaOffer
from app.instance.station_access import StationAccess
from app.ui.models.formatting import grouped_hex
from app.workers.background import CallFailure, start_call

MESSAGE_WIDTH = 560
RESTART_NOTE = "The station uses it from its next start, where you sign in to it."


class InstancePanel(QWidget):
    """Rows for a form: the instance in use and the built-in / remote choice with pairing."""

    def __init__(self, access: StationAccess, info: InstanceInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.access = access
        self.offer: RootCaOffer | None = None
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setVerticalSpacing(10)

        self.in_use = QLabel(f"{info.name} ({info.kind}) — {info.location}")
        self.in_use.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("In use", self.in_use)
        self.built_in = QRadioButton("Built-in instance (in this station's data folder)")
        self.remote = QRadioButton("Remote instance, served by `ql-station serve`")
        group = QButtonGroup(self)
        group.addButton(self.built_in)
        group.addButton(self.remote)
        choice = QHBoxLayout()
        choice.addWidget(self.built_in)
        choice.addWidget(self.remote)
        choice.addStretch(1)
        form.addRow("Use", choice)

        self.url = QLineEdit()
        self.url.setPlaceholderText("https://instance-pc:8443")
        self.fetch = QPushButton("Fetch fingerprint")
        self.fetch.clicked.connect(self.fetch_fingerprint)
        url_row = QHBoxLayout()
        url_row.addWidget(self.url, 1)
        url_row.addWidget(self.fetch)
        form.addRow("Address", url_row)
        self.fingerprint = QLabel("—")
        self.fingerprint.setObjectName("mono")
        self.fingerprint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Root CA SHA-256", self.fingerprint)
        self.confirm = QPushButton("Confirm and pair")
        self.confirm.setObjectName("primary")
        self.confirm.clicked.connect(self.confirm_pairing)
        self.use_built_in = QPushButton("Use the built-in instance")
        self.use_built_in.clicked.connect(self.return_to_built_in)
        buttons = QHBoxLayout()
        buttons.addWidget(self.confirm)
        buttons.addWidget(self.use_built_in)
        buttons.addStretch(1)
        self.message = QLabel("")
        self.message.setObjectName("hint")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.message.setMinimumWidth(MESSAGE_WIDTH)  # else its height is reckoned for a narrow column
        actions = QVBoxLayout()
        actions.setSpacing(6)
        actions.addLayout(buttons)
        actions.addWidget(self.message)
        form.addRow("", actions)

        paired = pairing.load_quietly(access.data_dir.root)
        (self.remote if paired is not None else self.built_in).setChecked(True)
        if paired is not None:
            self.url.setText(paired.url)
            self.fingerprint.setText(grouped_hex(paired.fingerprint, 16))
            self.message.setText(f"Paired with {paired.url}.")
        self.built_in.toggled.connect(self._update)
        self._update()

    def _update(self) -> None:
        remote = self.remote.isChecked()
        for widget in (self.url, self.fetch):
            widget.setEnabled(remote)
        self.confirm.setVisible(remote)
        self.confirm.setEnabled(remote and self.offer is not None)
        self.use_built_in.setVisible(not remote)
        self.use_built_in.setEnabled(pairing.load_quietly(self.access.data_dir.root) is not None)

    def _say(self, text: str, problem: bool = False) -> None:
        self.message.setObjectName("problem" if problem else "hint")
        self.message.setText(text)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)

    def _busy(self, busy: bool) -> None:
        for button in (self.fetch, self.confirm, self.use_built_in):
            button.setEnabled(not busy)
        if not busy:
            self._update()

    # --- step 1: what the server offers ------------------------------------------------------------
    def fetch_fingerprint(self) -> None:
        url = self.url.text()
        self.offer = None
        self.fingerprint.setText("—")
        self._busy(True)
        self._say("Asking the server for its root CA…")
        start_call(
            lambda: pairing.fetch_root_ca(url),
            "Fetching the root CA",
            self._offered,
            self._failed,
            owner=self,
        )

    def _offered(self, offer: RootCaOffer) -> None:
        self.offer = offer
        self.url.setText(offer.url)
        self.fingerprint.setText(grouped_hex(offer.fingerprint, 16))
        self._busy(False)
        self._say(
            f"{offer.subject}. Compare this fingerprint with the one `ql-station serve` printed on the "
            "instance's computer; pair only if they are the same."
        )

    # --- step 2: the person confirmed it ---------------------------------------------------------
    def confirm_pairing(self) -> None:
        offer = self.offer
        if offer is None:
            return
        root = self.access.data_dir.ensure().root
        self._busy(True)
        self._say("Checking the server with this root CA…")
        start_call(
            lambda: pairing.pair(root, offer.url, fingerprint=offer.fingerprint),
            "Pairing",
            self._paired,
            self._failed,
            owner=self,
        )

    def _paired(self, paired: Pairing) -> None:
        self.offer = None
        self._busy(False)
        self._say(f"Paired with {paired.url}. {RESTART_NOTE}")

    def return_to_built_in(self) -> None:
        access = self.access
        self._busy(True)

        def forget() -> None:
            access.sign_out()
            pairing.forget(access.data_dir.root)

        start_call(forget, "Returning to the built-in instance", self._forgotten, self._failed, owner=self)

    def _forgotten(self, _result: object) -> None:
        self._busy(False)
        self._say("This station uses its built-in instance from its next start.")

    def _failed(self, failure: CallFailure) -> None:
        self._busy(False)
        self._say(failure.message, problem=True)
