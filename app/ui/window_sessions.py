"""The station's windows in one run of the program: one per sign-in, and signing out to change operator.

A shared line station changes hands during a shift. "Sign out" in the status bar closes the window the
way Ctrl+Q does (asking first while boards are running), ends the session on the instance (a kept
sign-in is forgotten from the keyring too), and the sign-in dialog asks who is next; cancelling it ends
the program. No restart, and the next person never acts under the last one's name.

Each window owns what was started for it: the enrolment service of the built-in instance, or the demo
(virtual boards plus its own enrolment service). They stop when the window goes, so the next window can
start its own on the same port. Instance handles and closed windows are kept until the program ends:
calls their pages started may still be running on worker threads, and `shut_down` first waits for those.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QThreadPool
from PySide6.QtWidgets import QApplication

from app.instance.station_access import StationAccess
from app.ui.main_window import MainWindow
from app.ui.pages.context import PageContext
from app.ui.sign_in_dialog import SignedIn
from app.ui.startup_probe import StartupProbe
from app.workers.background import CallFailure, start_call
from app.workers.log_relay import LogRelay

if TYPE_CHECKING:
    from app.enrolment.runner import BesideServer
    from app.ui.demo import DemoSession

_log = logging.getLogger(__name__)

AskWho = Callable[[], SignedIn | None]


@dataclass(eq=False)
class _Opened:
    window: MainWindow
    signed: SignedIn
    demo: DemoSession | None = None
    enrolment: BesideServer | None = None
    signed_out: bool = False

    def stop_services(self) -> None:
        """Off the GUI thread: a service stops its accept loop and waits for it (up to a few seconds)."""
        if self.demo is not None:
            self.demo.stop()
        if self.enrolment is not None:
            self.enrolment.stop()


class WindowSessions:
    """Opens a window for each sign-in, and keeps what each started until it is stopped in order."""

    def __init__(
        self,
        app: QApplication,
        access: StationAccess,
        context_for: Callable[[SignedIn], PageContext],
        ask_who: AskWho,
        *,
        data_dir: Path,
        demo: bool = False,
        probe: StartupProbe | None = None,
        end: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.end = end or (lambda: app.exit(0))  # nobody signs in after a sign-out
        self.access = access
        self.context_for = context_for
        self.ask_who = ask_who
        self.data_dir = data_dir
        self.demo = demo
        self.probe = probe
        self.opened: list[_Opened] = []

    @property
    def windows(self) -> list[MainWindow]:
        """The windows still open (not signed out)."""
        return [o.window for o in self.opened if not o.signed_out]

    def live_sessions(self) -> list[SignedIn]:
        """The sessions of the windows still open, for `sign_out_unkept` at exit."""
        return [o.signed for o in self.opened if not o.signed_out]

    def open(self, signed: SignedIn) -> MainWindow:
        window = MainWindow(self.context_for(signed))
        opened = _Opened(window, signed)
        self.opened.append(opened)
        if self.probe is not None:
            self.probe.watch(window)
        if signed.kept or signed.token:  # a person's session, not the built-in account of a new demo
            window.offer_sign_out()
            window.signed_out.connect(lambda: self._sign_out(opened))
        window.show()
        self.app.setQuitOnLastWindowClosed(True)
        if self.demo:
            from app.ui.demo import attach_demo

            opened.demo = attach_demo(window, signed.instance, self.data_dir)  # it serves enrolments itself
        else:
            self._serve_enrolments(opened)
        return window

    def _serve_enrolments(self, opened: _Opened) -> None:
        """The built-in instance's enrolment service, so boards provisioned here can enrol (off the GUI
        thread: it issues a certificate). Where it cannot run, the status bar says why; nothing else stops."""
        from app.enrolment.runner import start_for_station

        window = opened.window

        def started(beside: BesideServer) -> None:
            opened.enrolment = beside
            if opened.signed_out:  # signed out while it was starting: it belongs to no window now
                start_call(beside.stop, "Stopping the enrolment service", lambda _: None, _logged)
                return
            _log.info("%s", beside.banner)
            window.statusBar().showMessage(beside.banner, 15_000)

        start_call(
            lambda: start_for_station(opened.signed.instance, self.data_dir),
            "Starting the enrolment service",
            started,
            window.show_error,
        )

    def _sign_out(self, opened: _Opened) -> None:
        """The window has closed for a sign-out: end its session off the GUI thread, then ask who is next."""
        self.app.setQuitOnLastWindowClosed(False)  # no window for a moment: that is not the end
        opened.signed_out = True
        signed = opened.signed

        def end_session() -> None:
            opened.stop_services()
            if signed.kept:
                _kept, problem = self.access.sign_out()
                if problem is not None:
                    _log.warning("signed out here; the instance was not told (%s)", problem)
            else:
                self.access.sign_out_token(signed.token)

        def ended(_result: object) -> None:
            _log.info("%s signed out", signed.info.actor)
            self._next()

        def failed(failure: CallFailure) -> None:
            # Unreachable instance: the session expires by itself there; this station no longer uses it.
            _log.warning("sign-out: %s", failure.message)
            self._next()

        start_call(end_session, "Signing out", ended, failed)

    def _next(self) -> None:
        signed = self.ask_who()
        if signed is None:
            self.end()
            return
        self.open(signed)

    def shut_down(self, relay: LogRelay) -> None:
        """Close the open windows and stop what they started; then close every instance handle."""
        live = [o for o in self.opened if not o.signed_out]
        shut_down(
            self.app,
            [o.window for o in live],
            relay,
            stops=[o.stop_services for o in live],
            closed=[o.window for o in self.opened if o.signed_out],
        )
        self.opened.clear()


def shut_down(
    app: QApplication,
    windows: Sequence[MainWindow],
    relay: LogRelay,
    stops: Sequence[Callable[[], None]] = (),
    closed: Sequence[MainWindow] = (),
) -> None:
    """Finish in a fixed order: workers, their pending results, the windows, `stops` (demos, services),
    then the windows' instances (`closed`: windows already closed, whose instances still need closing).

    Leaving Qt objects for the interpreter to collect after the event loop ends lets them die in any
    order, which crashes PySide now and then. Closing a window stops its Station page (runs cancelled,
    boards reset), so the demo's virtual boards are stopped only after that.
    """
    QThreadPool.globalInstance().waitForDone()  # no worker may still be using an instance
    app.processEvents()  # deliver finished results while their widgets still exist
    relay.detach()
    for window in windows:
        window.close()
    every = [*windows, *closed]
    for window in every:
        window.deleteLater()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    for stop in stops:
        stop()
    for window in every:
        window.instance.close()


def _logged(failure: CallFailure) -> None:
    _log.warning("%s", failure.message)
