"""The window's error banner: the one place a failed instance or worker call is shown to the person.

Not a modal box: a modal box stops the whole station (and every test) until someone clicks, while an
operator may be busy at the boards. The banner stays until dismissed and counts errors that arrive
while it is showing.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton


class ErrorBanner(QFrame):
    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("errorBanner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 8, 8, 8)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.more = QLabel()
        self.dismiss = QPushButton("Dismiss")
        self.dismiss.clicked.connect(self.clear)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.more)
        layout.addWidget(self.dismiss)
        self.messages: list[str] = []
        self.hide()

    def show_message(self, message: str) -> None:
        self.messages.append(message)
        self.label.setText(message)
        earlier = len(self.messages) - 1
        self.more.setText(f"(+{earlier} earlier)" if earlier else "")
        self.more.setToolTip("\n\n".join(self.messages[:-1][-10:]))
        self.show()

    def message(self) -> str:
        return self.label.text() if self.isVisible() or self.messages else ""

    def clear(self) -> None:
        self.messages.clear()
        self.label.clear()
        self.hide()
