"""The ports the station can see (real USB serial ports and virtual boards), with a tick for each.

The ticks choose the ports a manual start provisions. A port that looks like an ESP32 board (a virtual
board, or a USB bridge ESP32 boards use) is ticked when it first appears; any other serial port is
listed unticked. Ticks survive rescans.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ports.discovery import PortInfo
from app.ui.pages.station_grid import natural_key
from app.ui.widgets.page_header import section_title


def port_title(port: PortInfo) -> str:
    """What a person calls the port: the virtual board's name, else the device name."""
    if port.name:
        return port.name
    return port.url.rsplit("/", 1)[-1] if port.url.startswith("/dev/") else port.url


def port_titles(ports: Sequence[PortInfo]) -> dict[str, str]:
    """Each port's title, never the same for two ports: two `ql-station sim` fleets both name a board
    "sim-1", so a name two ports share gets the end of its URL (the TCP port, or the device name)."""
    titles = {p.url: port_title(p) for p in ports}
    counts = Counter(titles.values())
    return {
        url: f"{title} · {url_tail(url)}" if counts[title] > 1 else title for url, title in titles.items()
    }


def url_tail(url: str) -> str:
    """'4001' for rfc2217://127.0.0.1:4001, 'ttyUSB0' for /dev/ttyUSB0."""
    if "://" in url:
        return url.rsplit(":", 1)[-1].split("?", 1)[0]
    return url.rsplit("/", 1)[-1]


def port_chip(port: PortInfo) -> str:
    return port.chip.display_name if port.chip is not None else ""


class PortList(QWidget):
    selection_changed = Signal(int)  # how many ports are ticked

    def __init__(self) -> None:
        super().__init__()
        self.setFixedWidth(230)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(section_title("Ports"))
        self.hint = QLabel("Scanning…")
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)
        self.list = QListWidget()
        self.list.setSpacing(3)
        self.list.itemChanged.connect(lambda _item: self.selection_changed.emit(len(self.checked())))
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.all_button = QPushButton("Tick all")
        self.none_button = QPushButton("Tick none")
        self.all_button.clicked.connect(lambda: self.set_all(True))
        self.none_button.clicked.connect(lambda: self.set_all(False))
        row.addWidget(self.all_button)
        row.addWidget(self.none_button)
        layout.addLayout(row)
        self.ports: dict[str, PortInfo] = {}

    def set_ports(self, ports: Sequence[PortInfo]) -> None:
        ticked = set(self.checked())
        known = set(self.ports)
        self.ports = {p.url: p for p in ports}
        self.list.blockSignals(True)
        self.list.clear()
        titles = port_titles(ports)
        for port in sorted(ports, key=lambda p: (p.kind.value != "usb", natural_key(titles[p.url]))):
            chip = port_chip(port)
            item = QListWidgetItem(f"{titles[port.url]}{'  ·  ' + chip if chip else ''}\n{port.url}")
            item.setData(Qt.ItemDataRole.UserRole, port.url)
            item.setToolTip(port.description)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            tick = port.url in ticked if port.url in known else port.likely_esp
            item.setCheckState(Qt.CheckState.Checked if tick else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.blockSignals(False)
        count = len(ports)
        self.hint.setText(
            "No boards found. Plug in an ESP32 board, or start virtual ones with `ql-station sim`."
            if not count
            else f"{count} port{'s' if count != 1 else ''}. Ticked ports are provisioned by a manual start."
        )
        self.selection_changed.emit(len(self.checked()))

    def checked(self) -> list[str]:
        return [
            str(self.list.item(row).data(Qt.ItemDataRole.UserRole))
            for row in range(self.list.count())
            if self.list.item(row).checkState() is Qt.CheckState.Checked
        ]

    def set_checked(self, urls: Sequence[str]) -> None:
        wanted = set(urls)
        self.list.blockSignals(True)
        for row in range(self.list.count()):
            item = self.list.item(row)
            tick = item.data(Qt.ItemDataRole.UserRole) in wanted
            item.setCheckState(Qt.CheckState.Checked if tick else Qt.CheckState.Unchecked)
        self.list.blockSignals(False)
        self.selection_changed.emit(len(self.checked()))

    def set_all(self, ticked: bool) -> None:
        self.set_checked(list(self.ports) if ticked else [])
