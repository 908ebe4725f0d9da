"""The station window: navigation on the left, one page at a time, status bar, one error sink.

Pages come from the registry (app/ui/pages/registry.py), filtered by the signed-in user's role. Every
page's `error` signal ends in `show_error`, the one place failures reach the person, which words a
failure by its type (app/ui/failure_text.py) and offers the passphrase dialog when that would help;
`navigate` lets a page switch to another; a `RunRequest` from the Provisioning page is handed to
whichever page can accept one (the Station page).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.records import InstanceInfo
from app.instance.local.users import STATION_ACTOR
from app.provisioning.run_request import RunRequest
from app.ui.failure_text import failure_text, needs_passphrase
from app.ui.icons import load_icon
from app.ui.pages.base import Page
from app.ui.pages.context import PageContext
from app.ui.pages.registry import PAGES, pages_for
from app.ui.pages.station_keys import QUIT_KEYS
from app.ui.passphrase_dialog import ask_passphrase
from app.ui.widgets.error_banner import ErrorBanner
from app.ui.widgets.offline_banner import OfflineBanner
from app.workers.background import CallFailure
from app.workers.connection_watch import ConnectionState, ConnectionWatch

log = logging.getLogger(__name__)
STATUS_MESSAGE_MS = 8_000


def user_text(info: InstanceInfo) -> str:
    """Who acts, for the status bar: the signed-in user, or the built-in account before any user exists."""
    if info.actor == STATION_ACTOR:
        return "No users yet: acting as the built-in station account"
    return f"Signed in as {info.actor} ({info.role.value})"


class MainWindow(QMainWindow):
    signed_out = Signal()  # the window closed because its person signed out (see offer_sign_out)

    def __init__(self, context: PageContext, page_classes: Sequence[type[Page]] = PAGES) -> None:
        super().__init__()
        self.context = context
        self.instance = context.instance
        self.info = context.info
        self.setWindowTitle(f"QuarkLink Provisioning Station — {self.info.name}")
        self.resize(1280, 800)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._navigation_column())
        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.setSpacing(0)
        self.error_banner = ErrorBanner()
        self.offline_banner = OfflineBanner()
        self.offline_banner.open_outbox.connect(lambda: self.show_page("Outbox"))
        self.stack = QStackedWidget()
        right.addWidget(self.error_banner)
        right.addWidget(self.offline_banner)
        right.addWidget(self.stack, 1)
        layout.addLayout(right, 1)
        self.setCentralWidget(central)

        self.pages: list[Page] = []
        for page_class in pages_for(self.info.role, tuple(page_classes)):
            self._add_page(page_class(context))
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        # Ctrl+Q (Cmd+Q on macOS) closes the window the normal way: runs cancelled, boards reset. Spelled
        # out because StandardKey.Quit is empty on Windows and on some Linux platforms.
        self.quit_shortcut = QShortcut(QKeySequence(QUIT_KEYS), self)
        self.quit_shortcut.activated.connect(self.close)
        self.quit_box: QMessageBox | None = None
        self._quit_agreed = False
        self._signing_out = False

        self.connection_label = QLabel(self._connection_text())
        self.connection_label.setObjectName("connection")
        self.user_label = QLabel(user_text(self.info))
        self.user_label.setObjectName("signedIn")
        self.ports_label = QLabel()
        self.set_port_count(None)
        self.outbox_label = QLabel("")
        self.outbox_label.setObjectName("outboxCount")
        self.statusBar().addWidget(self.connection_label, 1)
        # A long instance path must not set the window's minimum width (it has to fit 1024x600).
        self.connection_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.connection_label.setToolTip(self._connection_text())
        self.statusBar().addPermanentWidget(self.outbox_label)
        self.statusBar().addPermanentWidget(self.user_label)
        self.sign_out_button = QPushButton("Sign out")
        self.sign_out_button.setObjectName("signOut")
        self.sign_out_button.setToolTip("End this session; the sign-in dialog asks who is next")
        self.sign_out_button.clicked.connect(self.sign_out)
        self.sign_out_button.hide()  # until the application says this window has a session to end
        self.statusBar().addPermanentWidget(self.sign_out_button)
        self.statusBar().addPermanentWidget(self.ports_label)
        self.nav.setCurrentRow(0)
        self.connection_watch = ConnectionWatch(self.instance, context.data_dir, self)
        self.connection_watch.changed.connect(self.show_connection)
        self.connection_watch.check()
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.connection_watch.stop)

    def _navigation_column(self) -> QWidget:
        column = QWidget()
        column.setFixedWidth(200)
        layout = QVBoxLayout(column)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        title = QLabel("QuarkLink")
        title.setObjectName("navigationTitle")
        subtitle = QLabel("Provisioning Station")
        subtitle.setObjectName("navigationSubtitle")
        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setIconSize(QSize(20, 20))
        self.nav.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addWidget(self.nav, 1)
        return column

    def _add_page(self, page: Page) -> None:
        self.pages.append(page)
        self.stack.addWidget(page)
        item = QListWidgetItem(load_icon(page.icon), page.title)
        item.setData(Qt.ItemDataRole.UserRole, page.title)
        self.nav.addItem(item)
        page.error.connect(self.show_error)
        page.navigate.connect(self.show_page)
        page.status.connect(lambda message: self.statusBar().showMessage(message, STATUS_MESSAGE_MS))
        requested = getattr(page, "provisioning_requested", None)
        if requested is not None:
            requested.connect(self.route_provisioning_request)
        reenrol = getattr(page, "reenrol_requested", None)  # the Records page's "Re-enrol this board…"
        if reenrol is not None:
            reenrol.connect(self.route_reenrol_request)
        port_count = getattr(page, "port_count_changed", None)  # the Station page reports its ports
        if port_count is not None:
            port_count.connect(self.set_port_count)

    def _connection_text(self) -> str:
        where = "built-in local instance" if self.info.kind == "local" else "remote instance"
        return f"Connected to the {where} “{self.info.name}” — {self.info.location}"

    def show_connection(self, state: ConnectionState) -> None:
        """Online or offline, and what the station owes the instance: the banner and the status bar."""
        self.offline_banner.show_state(state)
        if state.online:
            self.connection_label.setText(self._connection_text())
        else:
            self.connection_label.setText(f"Offline: {state.reason}" if state.reason else "Offline")
        owed = state.queued + state.needs_attention
        self.outbox_label.setText(f"Outbox: {owed:,}" if owed else "")
        self.outbox_label.setToolTip(
            f"{state.queued} DeviceID(s) waiting to be sent, {state.needs_attention} refused" if owed else ""
        )

    # --- closing ---------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        """Ask before closing stops work (boards being provisioned); then every page stops its work.

        Ctrl+Q and the window's close button come here. SIGTERM and Ctrl-C quit the application instead,
        which stops the pages first (aboutToQuit), so by the time the window closes nothing is asked.
        """
        question = None if self._quit_agreed else self.quit_question()
        if question is not None:
            event.ignore()
            self._ask_to_quit(question)
            return
        self.connection_watch.stop()
        for page in self.pages:
            page.shutdown()
        super().closeEvent(event)
        if self._signing_out:
            self._signing_out = False  # once: a later close (at exit) is not another sign-out
            self.signed_out.emit()

    def offer_sign_out(self) -> None:
        """Show "Sign out": the window belongs to a person's session (not the built-in demo account)."""
        self.sign_out_button.show()

    def sign_out(self) -> None:
        """Close as Ctrl+Q does (asking first while boards run), then emit `signed_out`."""
        self._signing_out = True
        self.close()

    def quit_question(self) -> str | None:
        questions = [q for q in (page.quit_question() for page in self.pages) if q]
        return "\n\n".join(questions) if questions else None

    def _ask_to_quit(self, question: str) -> None:
        if self.quit_box is not None and self.quit_box.isVisible():
            return
        leaving = "sign out" if self._signing_out else "quit"
        title = "Sign out?" if self._signing_out else "Quit the station?"
        box = QMessageBox(QMessageBox.Icon.Warning, title, question, parent=self)
        stop = box.addButton(f"Stop them and {leaving}", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep running", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)

        def answered() -> None:
            if box.clickedButton() is stop:
                self._quit_agreed = True
                self.close()
            else:
                self._signing_out = False  # kept running: a later Ctrl+Q quits, it does not sign out

        box.finished.connect(answered)
        self.quit_box = box
        box.open()

    # --- navigation ------------------------------------------------------------------------------
    def titles(self) -> list[str]:
        return [page.title for page in self.pages]

    def has_page(self, title: str) -> bool:
        return title in self.titles()

    def page(self, title: str) -> Page:
        for page in self.pages:
            if page.title == title:
                return page
        raise KeyError(f"no page titled {title!r} for {self.info.role.value}s")

    def show_page(self, title: str) -> bool:
        if not self.has_page(title):
            return False
        self.nav.setCurrentRow(self.titles().index(title))
        return True

    def current_page(self) -> Page:
        page = self.stack.currentWidget()
        assert isinstance(page, Page)
        return page

    # --- status and errors -----------------------------------------------------------------------
    def set_port_count(self, count: int | None) -> None:
        """How many ports the station is watching (None until the Station page reports it)."""
        self.ports_label.setText("ports: —" if count is None else f"ports: {count}")

    def show_error(self, failure: CallFailure | str) -> None:
        """The one place errors reach the person: a banner above the page, and the station log."""
        message = failure_text(failure, self.info.role)
        log.warning("%s", message)
        self.statusBar().showMessage(message.splitlines()[0] if message else "", STATUS_MESSAGE_MS)
        action = None
        if needs_passphrase(failure) and self.context.passphrase is not None:
            action = ("Enter passphrase…", self.enter_passphrase)
        self.error_banner.show_message(message, action)

    def enter_passphrase(self) -> None:
        """Take the passphrase for this session; the instance uses it the next time it unlocks its keys."""
        holder = self.context.passphrase
        if holder is None:
            return
        passphrase = ask_passphrase(self, is_new=False)
        if passphrase is not None:
            holder.set(passphrase)
            self.statusBar().showMessage("Passphrase kept for this session: try again", STATUS_MESSAGE_MS)

    def route_reenrol_request(self, port: str, batch: str) -> bool:
        """Give a re-enrolment to the page that runs boards (the Station page), and show that page."""
        for page in self.pages:
            accept = getattr(page, "accept_reenrol_request", None)
            if accept is not None:
                self.show_page(page.title)
                accept(port, batch)
                return True
        return False

    def route_provisioning_request(self, request: RunRequest) -> bool:
        """Give the request to the page that can start it (the Station page), and show that page."""
        for page in self.pages:
            accept = getattr(page, "accept_provisioning_request", None)
            if accept is not None:
                self.show_page(page.title)
                accept(request)
                return True
        self.statusBar().showMessage(
            f"Provisioning {request.task!r} into {request.batch!r} is ready; the Station page runs it.",
            STATUS_MESSAGE_MS,
        )
        return False
