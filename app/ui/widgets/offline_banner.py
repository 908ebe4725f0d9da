"""The band above every page that says the data is not live: "Offline — data from 10:42, 3 DeviceIDs waiting".

Hidden while the instance answers and nothing needs a person. Offline it is amber and says since when
the data is, what is owed, and that provisioning goes on; refused DeviceIDs add a link to the Outbox.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from app.workers.connection_watch import ConnectionState


def banner_text(state: ConnectionState) -> str:
    """The sentence the band shows; '' when there is nothing to say."""
    owed = _ids(state.queued, "waiting to be sent")
    refused = _ids(state.needs_attention, "refused, waiting for your decision")
    if not state.online:
        age = f"data from {_clock(state.data_from)}" if state.data_from else "no data kept yet"
        parts = [f"Offline — {age}", owed, refused]
        text = ", ".join(p for p in parts if p)
        return f"{text}. Provisioning goes on; DeviceIDs are sent when the instance is back."
    return ", ".join(p for p in (owed, refused) if p)


class OfflineBanner(QFrame):
    open_outbox = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("offlineBanner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 6, 14, 6)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.outbox_button = QPushButton("Open the outbox")
        self.outbox_button.clicked.connect(self.open_outbox)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.outbox_button)
        self.hide()

    def show_state(self, state: ConnectionState) -> None:
        text = banner_text(state)
        self.label.setText(text)
        for widget in (self, self.label):  # the label's colour follows the band's state too
            widget.setProperty("offline", not state.online)
            widget.style().unpolish(widget)
            widget.style().polish(widget)
        self.outbox_button.setVisible(bool(state.queued or state.needs_attention))
        self.setVisible(bool(text))


def _ids(number: int, what: str) -> str:
    if not number:
        return ""
    return f"{number} DeviceID {what}" if number == 1 else f"{number:,} DeviceIDs {what}"


def _clock(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    local = moment.astimezone()
    today = datetime.now(local.tzinfo).date()
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%Y-%m-%d %H:%M")
