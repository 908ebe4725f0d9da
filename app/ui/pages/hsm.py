"""HSM: the instance PKI (OEM root, issuing, TLS), the device certificates its issuing CA signed, and the
signing keys that sign bootloaders.

The device-certificate counts come from the lifecycle (the dashboard summary's per-state device counts,
O(batches) on the instance): valid = Enrolled + Renewed devices, expired = Expired, revoked = Revoked,
not used = devices registered in a batch that have not enrolled yet.

Only public parts are shown or saved: certificate PEMs and public keys. Files are written on a worker,
like every other export.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
)

from app.domain.records import CertificateInfo, DashboardSummary, SigningKey
from app.ui.models.formatting import count, day, grouped_hex, spaced_hex, when
from app.ui.models.table_model import Column, RecordTableModel, sorting_proxy
from app.ui.pages.base import Page
from app.ui.pages.context import PageContext
from app.ui.pages.hsm_key_dialog import KEY_TYPE_LABELS, CreateKeyDialog
from app.ui.widgets.page_header import PageHeader, section_title
from app.ui.widgets.panels import StatPanel
from app.ui.widgets.record_view import RecordView
from app.workers.listing import Listing, collect

ROLE_TITLES = {"root": "OEM Root CA", "issuing": "Issuing CA", "tls": "TLS server"}
# A panel's definition, as its tooltip: a line under each number would make the page too tall for 1024x600.
DEVICE_CERTIFICATE_PANELS = {
    "Valid": "Certificates held by Enrolled and Renewed devices",
    "Renewed": "Valid certificates that were renewed",
    "Expired": "Certificates that ran out; the device enrols again",
    "Revoked": "Certificates of revoked devices: the enrolment service refuses them",
    "Not used": "Devices registered in a batch that have not enrolled yet",
}
KEY_COLUMNS: tuple[Column[SigningKey], ...] = (
    Column("Name", lambda k: k.name),
    Column("Type", lambda k: KEY_TYPE_LABELS.get(k.key_type, k.key_type.value)),
    Column(
        "Secure Boot digest (SHA-256)",
        lambda k: k.key_digest_hex,
        tooltip=lambda k: k.key_digest_hex,
        monospace=True,
    ),
    Column("Created", lambda k: when(k.created_at), sort_key=lambda k: k.created_at),
)


def name_lines(name: str) -> str:
    """An RFC 4514 name one attribute per line ("CN=...\nO=..."), keeping escaped commas."""
    return re.sub(r"(?<!\\),", "\n", name)


def write_text_file(path: Path, text: str) -> Path:
    path.write_text(text, encoding="ascii")
    return path


class CertificateCard(QFrame):
    def __init__(self, certificate: CertificateInfo, save: QPushButton) -> None:
        super().__init__()
        self.setObjectName("panel")
        layout = QGridLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setVerticalSpacing(3)  # with the device panels and the keys, the page fits 1024x600
        title = QLabel(ROLE_TITLES.get(certificate.role, certificate.role))
        title.setObjectName("sectionTitle")
        layout.addWidget(title, 0, 0, 1, 2)
        rows = (
            ("Subject", name_lines(certificate.subject)),
            ("Issuer", name_lines(certificate.issuer)),
            ("Valid", f"{day(certificate.not_before)} → {day(certificate.not_after)}"),
            ("Serial", spaced_hex(certificate.serial_hex)),
            ("SHA-256", grouped_hex(certificate.fingerprint_sha256)),
        )
        for row, (name, value) in enumerate(rows, start=1):
            label = QLabel(name)
            label.setObjectName("fieldName")
            label.setAlignment(Qt.AlignmentFlag.AlignTop)
            text = QLabel(value)
            text.setWordWrap(True)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            if name in ("SHA-256", "Serial"):
                text.setObjectName("mono")
            layout.addWidget(label, row, 0)
            layout.addWidget(text, row, 1)
        layout.setColumnStretch(1, 1)
        layout.setRowStretch(len(rows) + 1, 1)  # cards of unequal text keep their rows together at the top
        layout.addWidget(save, len(rows) + 2, 1, alignment=Qt.AlignmentFlag.AlignRight)


class HsmPage(Page):
    title = "HSM"
    icon = "hsm"
    order = 20

    def __init__(self, context: PageContext) -> None:
        super().__init__(context)
        self.certificates: tuple[CertificateInfo, ...] = ()
        self.save_buttons: dict[str, QPushButton] = {}
        self.listing: Listing[SigningKey] | None = None
        self.last_saved: Path | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        layout.addWidget(
            PageHeader(
                "HSM",
                "The instance's PKI and signing keys. Private keys never leave the instance.",
            )
        )
        layout.addWidget(section_title("Certificates"))
        self.cards = QHBoxLayout()
        layout.addLayout(self.cards)
        layout.addWidget(section_title("Device certificates (signed by the Issuing CA)"))
        self.device_certificate_panels = {name: StatPanel(name) for name in DEVICE_CERTIFICATE_PANELS}
        panels = QHBoxLayout()
        for name, panel in self.device_certificate_panels.items():
            panel.detail.hide()
            panel.setToolTip(DEVICE_CERTIFICATE_PANELS[name])
            panels.addWidget(panel, 1)
        layout.addLayout(panels)

        self.create_button = QPushButton("Create key…")
        self.create_button.setObjectName("primary")
        self.create_button.clicked.connect(self.open_create_dialog)
        self.export_button = QPushButton("Export public key…")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._choose_export)
        keys_row = QHBoxLayout()
        keys_row.addWidget(section_title("Signing keys"), 1)
        keys_row.addWidget(self.export_button)
        keys_row.addWidget(self.create_button)
        layout.addLayout(keys_row)
        self.key_model = RecordTableModel(KEY_COLUMNS, self)
        self.key_proxy = sorting_proxy(self.key_model, self)
        self.keys = RecordView(self.key_proxy, widths=(200, 110, 520))
        self.keys.sortByColumn(3, Qt.SortOrder.DescendingOrder)
        self.keys.selectionModel().selectionChanged.connect(
            lambda: self.export_button.setEnabled(self.selected_key() is not None)
        )
        layout.addWidget(self.keys, 1)

    def refresh(self) -> None:
        if not self.certificates:
            self.call(
                self.instance.certificates, "Loading the instance certificates", self._show_certificates
            )
        self.call(
            lambda: collect(self.instance.list_signing_keys), "Loading the signing keys", self._show_keys
        )
        self.call(
            self.instance.dashboard_summary,
            "Counting the device certificates",
            self._show_device_certificates,
        )

    def _show_device_certificates(self, summary: DashboardSummary) -> None:
        d = summary.devices
        values = (d.enrolled + d.renewed, d.renewed, d.expired, d.revoked, d.registered)
        for panel, value in zip(self.device_certificate_panels.values(), values, strict=True):
            panel.set_value(count(value))

    def _show_certificates(self, certificates: tuple[CertificateInfo, ...]) -> None:
        if self.certificates:  # two refreshes crossed (shown, then refreshed): the cards are there
            return
        self.certificates = certificates
        order = {"root": 0, "issuing": 1, "tls": 2}
        for certificate in sorted(certificates, key=lambda c: order.get(c.role, 9)):
            save = QPushButton("Save PEM…")
            save.clicked.connect(lambda _checked=False, c=certificate: self._choose_pem_file(c))
            self.save_buttons[certificate.role] = save
            self.cards.addWidget(CertificateCard(certificate, save), 1)

    def _show_keys(self, listing: Listing[SigningKey]) -> None:
        selected = self.selected_key()
        self.listing = listing
        self.key_model.set_records(listing.items)
        if selected is not None:
            self.select_key(selected.name)

    def selected_key(self) -> SigningKey | None:
        row = self.keys.selected_source_row()
        return None if row is None else self.key_model.record(row)

    def select_key(self, name: str) -> None:
        for row, key in enumerate(self.key_model.records()):
            if key.name == name:
                self.keys.selectRow(self.key_proxy.mapFromSource(self.key_model.index(row, 0)).row())

    # --- saving public parts --------------------------------------------------------------------
    def _choose_pem_file(self, certificate: CertificateInfo) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save certificate", f"{certificate.role}-ca.pem", "PEM files (*.pem);;All files (*)"
        )
        if path:
            self.save_certificate(certificate.role, Path(path))

    def save_certificate(self, role: str, path: Path) -> None:
        certificate = next(c for c in self.certificates if c.role == role)
        title = ROLE_TITLES.get(role, role)
        self.call(
            lambda: write_text_file(path, certificate.pem), f"Saving the {title} certificate", self._saved
        )

    def _choose_export(self) -> None:
        key = self.selected_key()
        if key is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export public key", f"{key.name}.pub.pem", "PEM files (*.pem);;All files (*)"
        )
        if path:
            self.export_public_key(key.name, Path(path))

    def export_public_key(self, name: str, path: Path) -> None:
        self.call(
            lambda: write_text_file(path, self.instance.get_signing_key(name).public_key_pem),
            f"Exporting the public key of {name!r}",
            self._saved,
        )

    def _saved(self, path: Path) -> None:
        self.last_saved = path
        self.status.emit(f"Saved {path}")

    # --- keys ------------------------------------------------------------------------------------
    def open_create_dialog(self) -> CreateKeyDialog:
        dialog = CreateKeyDialog(self, self.instance)
        dialog.created.connect(self._key_created)
        dialog.open()
        return dialog

    def _key_created(self, key: SigningKey) -> None:
        self.status.emit(f"Signing key {key.name!r} created")
        self.refresh()
