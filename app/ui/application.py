"""Start the GUI: QApplication, open the instance off the GUI thread, then show the window."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox

from app.instance.api import Instance
from app.system.keyring_store import KeyringStore
from app.system.paths import DataDir
from app.ui.main_window import MainWindow
from app.ui.passphrase_dialog import ask_passphrase
from app.ui.style import STYLE_SHEET
from app.workers.background import start_call


def open_local_instance(data_dir: Path, actor: str | None, passphrase: str | None) -> Instance:
    """Runs on a worker thread: first start generates the PKI, which must not freeze the window."""
    from app.instance.local.instance import LocalInstance

    paths = DataDir(data_dir).ensure()
    return LocalInstance.open(
        paths.local_instance_db,
        actor=actor,
        passphrase_prompt=(lambda _reason, _new: passphrase) if passphrase else None,
    )


def run_gui(data_dir: Path, demo: bool = False, actor: str | None = None) -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("QuarkLink Provisioning Station")
    app.setStyleSheet(STYLE_SHEET)

    passphrase = None
    if not KeyringStore().available():
        # No OS keyring: the person gives a passphrase for this session; it is never stored.
        is_new = not DataDir(data_dir).local_instance_db.exists()
        passphrase = ask_passphrase(None, is_new)
        if passphrase is None:
            return 1

    windows: list[MainWindow] = []

    def opened(instance: Instance) -> None:
        window = MainWindow(instance, instance.info())
        windows.append(window)
        window.show()

    def failed(message: str) -> None:
        QMessageBox.critical(None, "QuarkLink Provisioning Station", message)
        app.exit(1)

    start_call(
        lambda: open_local_instance(data_dir, actor, passphrase), "Opening the local instance", opened, failed
    )
    code = app.exec()
    for window in windows:
        window.instance.close()
    return int(code)
