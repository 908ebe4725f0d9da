"""A page's title line: the title, a one-line explanation, and the page's main buttons on the right."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget


class PageHeader(QWidget):
    def __init__(self, title: str, subtitle: str = "", *buttons: QWidget) -> None:
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 4)
        text = QVBoxLayout()
        text.setSpacing(0)
        heading = QLabel(title)
        heading.setObjectName("pageTitle")
        text.addWidget(heading)
        if subtitle:
            explanation = QLabel(subtitle)
            explanation.setObjectName("pageSubtitle")
            explanation.setWordWrap(True)
            text.addWidget(explanation)
        layout.addLayout(text, 1)
        for button in buttons:
            layout.addWidget(button)


def section_title(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("sectionTitle")
    return label
