"""The window's error banner: the one place a failed instance or worker call is shown to the person.

Not a modal box: a modal box stops the whole station (and every test) until someone clicks, while an
operator may be busy at the boards. The banner stays until dismissed and counts errors that arrive
while it is showing. An error the person can act on brings one action button (e.g. "Enter
passphrase…"); it belongs to the newest error only.
"""

from __future__ import annotations

from collections.abc import Callable

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
        self.action = QPushButton()
        self.action.hide()
        self.action.clicked.connect(self._act)
        self._on_action: Callable[[], None] | None = None
        self.dismiss = QPushButton("Dismiss")
        self.dismiss.clicked.connect(self.clear)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.more)
        layout.addWidget(self.action)
        layout.addWidget(self.dismiss)
        self.messages: list[str] = []
        self.hide()

    def show_message(self, message: str, action: tuple[str, Callable[[], None]] | None = None) -> None:
        self.messages.append(message)
        self._on_action = action[1] if action else None
        self.action.setText(action[0] if action else "")
        self.action.setVisible(action is not None)
        self.label.setText(message)
        earlier = len(self.messages) - 1
        self.more.setText(f"(+{earlier} earlier)" if earlier else "")
        self.more.setToolTip("\n\n".join(self.messages[:-1][-10:]))
        self.show()

    def message(self) -> str:
        return self.label.text() if self.isVisible() or self.messages else ""

    def _act(self) -> None:
        on_action = self._on_action
        self.clear()
        if on_action is not None:
            on_action()

    def clear(self) -> None:
        self._on_action = None
        self.action.hide()
        self.messages.clear()
        self.label.clear()
        self.hide()
