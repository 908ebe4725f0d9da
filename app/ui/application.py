"""Start the GUI: QApplication, preferences and theme, the station log, then the instance and the window.

The instance (the paired one, else the built-in one: `app.instance.station_access`) is opened on a
worker thread (first start generates the PKI), with a passphrase dialog first when this computer has no
OS keyring. Then the person is who acts: a kept sign-in opens straight away; otherwise the sign-in
dialog asks, or, on a new built-in instance with no users, the first-administrator dialog. The demo
(`gui --demo`) on an instance with no users opens at once, acting as the built-in `station` account.
A session that was not kept is signed out when the window closes. "Sign out" in the window ends the
session and asks who is next (app/ui/window_sessions.py, which also owns what each window started).

With `demo`, the window also gets virtual boards and a demo task and batch (app/ui/demo.py); they are
stopped after the window, before the instance closes.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSocketNotifier
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from app.instance.station_access import BUILT_IN, StationAccess, has_users
from app.system.keyring_store import KeyringStore
from app.system.paths import DataDir
from app.ui.first_admin_dialog import FirstAdminDialog
from app.ui.models.station_log import StationLogModel
from app.ui.pages.context import PageContext
from app.ui.passphrase_dialog import SessionPassphrase, ask_passphrase
from app.ui.settings import StationSettings
from app.ui.sign_in_dialog import SignedIn, SignInDialog
from app.ui.startup_probe import StartupProbe
from app.ui.style import apply_theme
from app.ui.window_sessions import WindowSessions
from app.workers.background import CallFailure, start_call
from app.workers.log_relay import LogRelay

APP_TITLE = "QuarkLink Provisioning Station"
_signal_wakeup: list[object] = []


READY, SIGN_IN, FIRST_ADMIN = "ready", "sign-in", "first-admin"


@dataclass(frozen=True)
class Opening:
    """What opening found: the instance ready to use, or what the person must do first."""

    needs: str  # READY, SIGN_IN or FIRST_ADMIN
    where: str
    ready: SignedIn | None = None


def open_for_window(access: StationAccess, demo: bool) -> Opening:
    """Runs on a worker thread: first start generates the PKI, and a served instance is a network call.

    The instance asks the session passphrase whenever it unlocks its keys, so one entered later in the
    window (after a wrong or missing one) is used from then on.
    """
    where = access.where()
    if where == BUILT_IN:
        station = access.open_local()
        try:
            if not has_users(station):
                if demo:
                    return Opening(READY, where, SignedIn(station, station.info(), "", kept=False))
                station.close()
                return Opening(FIRST_ADMIN, where)
        except BaseException:
            station.close()
            raise
        station.close()
    kept = access.open_kept()
    if kept is None:
        return Opening(SIGN_IN, where)
    try:
        return Opening(READY, where, SignedIn(kept, kept.info(), "", kept=True))
    except BaseException:
        kept.close()
        raise


def ask_who(
    opening: Opening,
    access: StationAccess,
    settings: StationSettings,
    actor: str | None,
    probe: StartupProbe | None = None,
) -> SignedIn | None:
    """The sign-in or first-administrator dialog; None when the person cancels.

    The cold-start probe watches the dialog as it would the window: it is the first thing painted.
    """
    dialog: SignInDialog | FirstAdminDialog
    if opening.needs == FIRST_ADMIN:
        dialog = FirstAdminDialog(None, access, settings)
    else:
        dialog = SignInDialog(None, access, opening.where, settings)
        if actor:
            dialog.username.setText(actor)
    dialog.setWindowTitle(f"{dialog.windowTitle()} — {APP_TITLE}")
    if probe is not None:
        probe.watch(dialog)
    accepted = dialog.exec() == QDialog.DialogCode.Accepted
    result = dialog.result_
    dialog.deleteLater()
    return result if accepted else None


def sign_out_unkept(access: StationAccess, sessions: Sequence[SignedIn], timeout_s: float = 10.0) -> None:
    """End the sessions that were not kept, off the GUI thread, waiting a bounded time at exit."""
    tokens = [s.token for s in sessions if s.token and not s.kept]
    if not tokens:
        return

    def revoke() -> None:
        for token in tokens:
            with contextlib.suppress(Exception):  # unreachable: the session expires by itself
                access.sign_out_token(token)

    worker = threading.Thread(target=revoke, name="sign-out", daemon=True)
    worker.start()
    worker.join(timeout_s)


def station_log(logger_name: str = "app") -> tuple[StationLogModel, LogRelay]:
    """The station's own log: every record of the `app` loggers, into a bounded model."""
    model = StationLogModel()
    relay = LogRelay()
    relay.lines_ready.connect(model.append_lines)
    logger = logging.getLogger(logger_name)
    logger.setLevel(logging.DEBUG)
    relay.attach(logger)
    return model, relay


def run_gui(data_dir: Path, demo: bool = False, actor: str | None = None) -> int:
    """`actor` (from `--user`) only fills in the sign-in dialog: naming a user is not signing in."""
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_TITLE)
    app.setOrganizationName("QuarkLink")
    settings = StationSettings()
    apply_theme(app, settings.theme)
    log_model, relay = station_log()
    probe = StartupProbe.from_env()
    keyring = KeyringStore()

    passphrase = SessionPassphrase()
    if not keyring.available():
        # No OS keyring: the person gives a passphrase for this session; it is never stored.
        is_new = not DataDir(data_dir).local_instance_db.exists()
        answer = ask_passphrase(None, is_new)
        if answer is None:
            return 1
        passphrase.set(answer)

    access = StationAccess(DataDir(data_dir), keyring, passphrase.prompt)
    windows = WindowSessions(
        app,
        access,
        lambda signed: PageContext(
            signed.instance, signed.info, settings, keyring, log_model, data_dir, passphrase
        ),
        lambda: ask_who(Opening(SIGN_IN, access.where()), access, settings, None),
        data_dir=data_dir,
        demo=demo,
        probe=probe,
    )

    def opened(opening: Opening) -> None:
        signed = opening.ready or ask_who(opening, access, settings, actor, probe)
        if signed is None:
            app.exit(0)
            return
        windows.open(signed)

    def failed(failure: CallFailure) -> None:
        advice = ""
        if access_where[0] != BUILT_IN:
            advice = (
                "\n\nTo work with this station's built-in instance instead, run "
                "`ql-station instance disconnect`."
            )
        QMessageBox.critical(None, APP_TITLE, failure.message + advice)
        app.exit(1)

    access_where = [BUILT_IN]
    with contextlib.suppress(Exception):  # a damaged pairing file is said by the opening itself
        access_where[0] = access.where()
    start_call(lambda: open_for_window(access, demo), "Opening the instance", opened, failed)
    quit_on_signals(app)
    code = app.exec()
    live = windows.live_sessions()
    windows.shut_down(relay)
    sign_out_unkept(access, live)
    return int(code)


def quit_on_signals(app: QApplication) -> None:
    """Ctrl-C in the terminal, or SIGTERM from a session or service manager, quits the normal way.

    Qt's event loop runs in C++, where Python's signal handlers cannot run, so a signal would wait for
    the next Python callback (or kill the process outright). Python's wakeup fd, watched by a
    QSocketNotifier, wakes the loop at once; the handler then quits it, and `shut_down` cancels the
    runs and resets the boards as closing the window does.
    """
    wake_read, wake_write = socket.socketpair()
    for sock in (wake_read, wake_write):
        sock.setblocking(False)
    signal.set_wakeup_fd(wake_write.fileno())
    notifier = QSocketNotifier(wake_read.fileno(), QSocketNotifier.Type.Read, app)

    def drain() -> None:
        with contextlib.suppress(OSError):
            wake_read.recv(4096)

    notifier.activated.connect(drain)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: app.quit())
    _signal_wakeup[:] = [wake_read, wake_write, notifier]  # kept for the life of the process
