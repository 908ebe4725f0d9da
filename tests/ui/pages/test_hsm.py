"""The HSM page: certificates with their public PEMs, and signing keys created and exported."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from app.domain.kinds import DeviceState, KeyType
from app.instance.local.instance import LocalInstance
from app.ui.pages.context import PageContext
from app.ui.pages.hsm import HsmPage, name_lines
from app.ui.pages.hsm_key_dialog import CreateKeyDialog
from tests.ui.pool_drain import drain_pool


@pytest.fixture
def page(qtbot: QtBot, context: PageContext) -> Iterator[HsmPage]:
    hsm = HsmPage(context)
    qtbot.addWidget(hsm)
    hsm.resize(1100, 760)
    hsm.show()
    qtbot.waitUntil(lambda: len(hsm.certificates) == 3 and hsm.listing is not None, timeout=10_000)
    yield hsm
    drain_pool()


def create_key(qtbot: QtBot, dialog: CreateKeyDialog, name: str, label: str) -> None:
    dialog.name.setText(name)
    dialog.key_type.setCurrentIndex(dialog.key_type.findText(label))
    with qtbot.waitSignal(dialog.created, timeout=30_000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
        assert dialog.busy_bar.isVisible(), "generation shows a busy indicator while it runs"


def test_certificate_cards_show_the_instance_pki(page: HsmPage, instance: LocalInstance) -> None:
    assert set(page.save_buttons) == {"root", "issuing", "tls"}
    root = next(c for c in instance.certificates() if c.role == "root")
    texts = [label.text() for label in page.findChildren(QLabel)]
    assert name_lines(root.subject) in texts
    assert root.subject.split(",")[0] == name_lines(root.subject).splitlines()[0]
    fingerprint = root.fingerprint_sha256.replace(":", "").upper()
    assert any(text.replace(":", "").replace("\n", "") == fingerprint for text in texts)


def test_save_pem_writes_the_public_certificate(qtbot: QtBot, page: HsmPage, tmp_path: Path) -> None:
    target = tmp_path / "root.pem"
    with qtbot.waitSignal(page.status, timeout=10_000):
        page.save_certificate("root", target)
    certificate = x509.load_pem_x509_certificate(target.read_bytes())
    root = next(c for c in page.certificates if c.role == "root")
    assert certificate.fingerprint(hashes.SHA256()).hex() == root.fingerprint_sha256.replace(":", "").lower()
    assert b"PRIVATE" not in target.read_bytes()


def test_create_an_ecdsa_key_with_the_dialog(qtbot: QtBot, page: HsmPage, instance: LocalInstance) -> None:
    dialog = page.open_create_dialog()
    create_key(qtbot, dialog, "lab-ecdsa", "ECDSA P-256")
    assert instance.get_signing_key("lab-ecdsa").key_type is KeyType.ECDSA_P256
    qtbot.waitUntil(lambda: page.key_model.rowCount() == 1, timeout=10_000)
    assert page.key_model.record(0).name == "lab-ecdsa"
    assert page.key_proxy.index(0, 1).data() == "ECDSA P-256"


def test_create_an_rsa_key_and_export_its_public_part(
    qtbot: QtBot, page: HsmPage, instance: LocalInstance, tmp_path: Path
) -> None:
    dialog = page.open_create_dialog()
    assert "ESP32" in dialog.type_note.text()
    create_key(qtbot, dialog, "production", "RSA-3072")
    qtbot.waitUntil(lambda: page.key_model.rowCount() == 1, timeout=10_000)
    page.keys.selectRow(0)
    assert page.export_button.isEnabled()
    target = tmp_path / "production.pub.pem"
    with qtbot.waitSignal(page.status, timeout=10_000):
        page.export_public_key("production", target)
    public = serialization.load_pem_public_key(target.read_bytes())
    assert public.key_size == 3072  # type: ignore[union-attr]
    assert target.read_text() == instance.get_signing_key("production").public_key_pem


def test_a_key_name_in_use_is_refused_inline(qtbot: QtBot, page: HsmPage, instance: LocalInstance) -> None:
    instance.create_signing_key("taken", KeyType.ECDSA_P256)
    dialog = page.open_create_dialog()
    dialog.name.setText("taken")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.problem.isVisible(), timeout=10_000)
    assert "taken" in dialog.problem.text() and "already" in dialog.problem.text()
    assert dialog.isVisible()


def test_an_empty_key_name_is_refused_before_any_call(qtbot: QtBot, page: HsmPage) -> None:
    dialog = page.open_create_dialog()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.problem.text() == "signing key name cannot be empty"
    assert not dialog.busy


def test_the_dialog_grows_so_help_and_problems_are_never_clipped(qtbot: QtBot, page: HsmPage) -> None:
    dialog = page.open_create_dialog()
    qtbot.waitExposed(dialog)
    qtbot.wait(20)
    note = dialog.type_note
    assert note.height() >= note.heightForWidth(note.width()), "the key type help is clipped"
    height = dialog.height()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    problem = dialog.problem
    assert problem.isVisible()
    assert dialog.height() > height, "the dialog did not grow for its problem line"
    assert problem.height() >= problem.heightForWidth(problem.width())
    assert note.height() >= note.heightForWidth(note.width())
    qtbot.keyClicks(dialog.name, "k")
    assert not problem.isVisible(), "the problem stays after the name was typed"
    dialog.reject()


def test_device_certificate_counts_come_from_the_lifecycle(
    qtbot: QtBot, page: HsmPage, instance: LocalInstance
) -> None:
    devices = [hashlib.sha256(f"hsm-{i}".encode()).hexdigest() for i in range(4)]
    instance.create_batch("hsm-line")
    instance.add_devices("hsm-line", devices)
    desk = instance.device_enrolment()
    for device in devices[:3]:
        desk.enrol(device, ec.generate_private_key(ec.SECP256R1()).public_key())
    instance.renew_device(devices[0])
    instance.set_device_state([devices[1]], DeviceState.REVOKED)
    panels = page.device_certificate_panels
    page.refresh()
    qtbot.waitUntil(lambda: panels["Not used"].value.text() == "1", timeout=10_000)
    shown = {name: panel.value.text() for name, panel in panels.items()}
    assert shown == {"Valid": "2", "Renewed": "1", "Expired": "0", "Revoked": "1", "Not used": "1"}
