"""Settings: this station's own preferences, stored with QSettings (not in the instance).

Data folder (shown, opened in the file manager), the instance (built-in or a paired remote one,
app/ui/widgets/instance_panel.py), the default flashing baud rate, production mode's
"start on plug-in", the line's start/stop keys and sound (settings_line.py), and the theme, which
applies at once.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.instance.station_access import StationAccess
from app.system.paths import DataDir
from app.ui.pages.base import Page
from app.ui.pages.context import PageContext
from app.ui.pages.settings_line import LineSection
from app.ui.settings import BAUD_RATES, THEMES
from app.ui.style import apply_theme
from app.ui.widgets.instance_panel import InstancePanel
from app.ui.widgets.page_header import PageHeader, section_title
from app.ui.widgets.self_check_panel import SelfCheckPanel

CHOICE_WIDTH = 240
CONTENT_WIDTH = 820


class SettingsPage(Page):
    title = "Settings"
    icon = "settings"
    order = 70

    def __init__(self, context: PageContext) -> None:
        super().__init__(context)
        settings = context.settings
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        layout.addWidget(
            PageHeader("Settings", "Preferences of this station; they are not stored in the instance.")
        )
        body = QWidget()
        body.setMaximumWidth(CONTENT_WIDTH)
        form = QFormLayout(body)
        form.setContentsMargins(0, 0, 12, 0)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setVerticalSpacing(10)
        # The sections are taller than a 1024x600 screen leaves: they scroll, the window does not grow.
        self.sections = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        scroll.setWidget(body)
        layout.addWidget(scroll, 1)

        form.addRow(section_title("Data"))
        self.data_dir = QLabel(str(context.data_dir))
        self.data_dir.setObjectName("mono")
        self.data_dir.setToolTip(str(context.data_dir))
        # A deep folder must not set the window's width (it has to fit 1024x600): the label gives way.
        self.data_dir.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.data_dir.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_folder = QPushButton("Open folder")
        self.open_folder.clicked.connect(self.open_data_folder)
        row = QHBoxLayout()
        row.addWidget(self.data_dir, 1)
        row.addWidget(self.open_folder)
        form.addRow("Data folder", row)

        form.addRow(section_title("Instance"))
        self.instance_panel = InstancePanel(
            StationAccess(DataDir(context.data_dir), context.keyring), context.info
        )
        form.addRow(self.instance_panel)

        form.addRow(section_title("Flashing"))
        self.baud = QComboBox()
        self.baud.setFixedWidth(CHOICE_WIDTH)
        for rate in BAUD_RATES:
            self.baud.addItem(f"{rate:,} baud", rate)
        self.baud.setCurrentIndex(self.baud.findData(settings.default_baud))
        self.baud.currentIndexChanged.connect(lambda _i: settings.set_default_baud(self.baud.currentData()))
        form.addRow("Default baud rate", self.baud)

        form.addRow(section_title("Production mode"))
        self.auto_start = QCheckBox("Start the selected task as soon as a board is plugged in (no click)")
        self.auto_start.setChecked(settings.auto_start)
        self.auto_start.toggled.connect(settings.set_auto_start)
        form.addRow("Plug-in", self.auto_start)
        hint = QLabel("A release bootloader still asks for the batch name to be typed before it is flashed.")
        hint.setObjectName("hint")
        form.addRow("", hint)

        self.line = LineSection(form, settings, CHOICE_WIDTH)

        form.addRow(section_title("Appearance"))
        self.theme = QComboBox()
        self.theme.setFixedWidth(CHOICE_WIDTH)
        for theme in THEMES:
            self.theme.addItem(theme.capitalize(), theme)
        self.theme.setCurrentIndex(self.theme.findData(settings.theme))
        self.theme.currentIndexChanged.connect(lambda _i: self.set_theme(self.theme.currentData()))
        form.addRow("Theme", self.theme)

        form.addRow(section_title("Self-check"))
        self.self_check = SelfCheckPanel(context.data_dir)
        form.addRow(self.self_check)

    def set_theme(self, theme: str) -> None:
        self.context.settings.set_theme(theme)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, theme)

    def open_data_folder(self) -> bool:
        self.context.data_dir.mkdir(parents=True, exist_ok=True)
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.context.data_dir)))
