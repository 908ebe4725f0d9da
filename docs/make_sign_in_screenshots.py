"""Screenshots of signing in and pairing: the sign-in dialog, the first-administrator dialog, and
Settings → Instance with a served instance's fingerprint fetched.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_sign_in_screenshots.py [--out docs/screenshots]

Everything is real and temporary: a served instance over HTTPS on loopback (this process), a station
data folder paired with nothing yet, an in-memory keyring (docs/make_screenshots.py's), preferences in
a temporary INI file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from make_screenshots import REPO, SIZE, ScriptKeyring, settle, shoot, wait_for  # puts the repo on the path
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.domain.kinds import Role
from app.instance.station_access import StationAccess
from app.server.http_api import create_app
from app.server.https_server import HttpsServer, Listen, bind, tls_context
from app.server.served_instance import ServedInstance
from app.system.paths import DataDir
from app.ui.application import station_log
from app.ui.first_admin_dialog import FirstAdminDialog
from app.ui.main_window import MainWindow
from app.ui.pages.context import PageContext
from app.ui.pages.settings import SettingsPage
from app.ui.settings import StationSettings
from app.ui.sign_in_dialog import SignInDialog, remember_username
from app.ui.style import apply_theme
from app.ui.window_sessions import shut_down


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv)
    apply_theme(app, "light")
    with tempfile.TemporaryDirectory(prefix="ql-sign-in-shots-") as folder:
        root = Path(folder)
        keyring = ScriptKeyring()
        settings = StationSettings(QSettings(str(root / "settings.ini"), QSettings.Format.IniFormat))
        served = ServedInstance(root / "line-server" / "instance.sqlite3", keyring=keyring)
        served.station.create_user("alice", "alice-demo-password", Role.ADMINISTRATOR)
        certificate = served.station.issue_server_certificate(["localhost", "127.0.0.1"])
        server = HttpsServer(
            create_app(served), bind(Listen("127.0.0.1", 0)), tls_context(certificate, root / "line-server")
        )
        server.start()
        log_model, relay = station_log()
        windows: list[MainWindow] = []
        try:
            access = StationAccess(DataDir(root / "station"), keyring)
            with access.open_local() as station:
                station.create_user("alice", "alice-demo-password", Role.ADMINISTRATOR)

            first = FirstAdminDialog(None, StationAccess(DataDir(root / "fresh"), keyring), settings)
            first.username.setText("line-admin")
            first.password.setText("a good line admin password")
            first.repeat.setText("a good line admin password")
            first.show()
            shoot(app, first, out / "first-admin.png")
            first.close()

            remember_username(settings, "alice")
            dialog = SignInDialog(None, access, "https://localhost:8443", settings)
            dialog.password.setText("alice-demo-password")
            dialog.keep.setChecked(True)
            dialog.show()
            shoot(app, dialog, out / "sign-in.png")
            dialog.close()

            instance, _token = access.sign_in("alice", "alice-demo-password", keep=False)
            context = PageContext(instance, instance.info(), settings, keyring, log_model, root / "station")
            window = MainWindow(context)
            windows.append(window)
            window.resize(*SIZE)
            window.set_port_count(4)
            window.offer_sign_out()  # as the application does for a person's session
            window.show()
            window.show_page(SettingsPage.title)
            page = window.page(SettingsPage.title)
            assert isinstance(page, SettingsPage)
            panel = page.instance_panel
            panel.remote.setChecked(True)
            panel.url.setText(f"https://localhost:{server.port}")
            panel.fetch_fingerprint()
            wait_for(app, lambda: panel.offer is not None or panel.message.objectName() == "problem")
            settle(app)
            shoot(app, window, out / "settings-instance.png")
        finally:
            shut_down(app, windows, relay)
            server.stop()
            served.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
