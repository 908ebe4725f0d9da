"""Station: one tile per port, the session's counters, manual starts and production mode.

The page only draws and asks. Everything that touches the engine runs on the station thread
(app/workers/station_worker.py): port discovery, building the job (the instance signs the images),
the supervisor and its reader threads. The page receives coalesced snapshots (`ports_updated`, at most
1000/flush_ms a second for all ports together) and each finished run on its own (`port_finished`).

A run starts in one of three ways: the person ticks ports and presses Provision (using the request
chosen in the Start provisioning dialog, here or on the Provisioning page); a tile's Retry; or, in
production mode, a board being plugged in. A release-bootloader task never starts without the batch
name typed in `ReleaseConfirmDialog`. The production-mode switch is a setting (the person's choice,
kept across restarts); what is armed is the station worker's alone: the page asks it to arm or disarm
and draws the banner from what it says it armed (`StationService.production`).

The station thread is stopped when the window closes (or the application quits): every run still going
is cancelled and its board reset, and no worker process outlives the window. The window asks first
while boards run (`quit_question`), naming any board a release bootloader is being written to.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import suppress

from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout

from app.domain.chips import ChipType
from app.domain.errors import ValidationError
from app.domain.kinds import BootloaderKind
from app.domain.records import ProvisioningTask
from app.ports.discovery import PortInfo
from app.provisioning.events import Step
from app.provisioning.run_request import RunRequest
from app.ui.pages.base import Page
from app.ui.pages.context import PageContext
from app.ui.pages.provisioning_start_dialog import StartProvisioningDialog
from app.ui.pages.station_counters import CountersRow, SessionCounters
from app.ui.pages.station_drawer import CONSOLE_TAB, LOG_TAB, PortLines, StationDrawer
from app.ui.pages.station_grid import TileGrid, tile_scroll_area
from app.ui.pages.station_keys import (
    KEY_ACTIONS,
    SOUND_KEY,
    START_ACTION,
    STOP_ACTION,
    ResultSound,
    action_key,
    key_name,
    set_sound,
    sound_on,
)
from app.ui.pages.station_ports import PortList, port_chip, port_titles
from app.ui.pages.station_reenrol import reenrol_problem, reenrol_question
from app.ui.pages.station_release_dialog import ReleaseConfirmDialog
from app.ui.settings import AUTO_START
from app.ui.widgets.page_header import PageHeader
from app.ui.widgets.port_tile import MIN_TILE_WIDTH, PortTile
from app.workers.port_states import PortResult, PortSnapshot
from app.workers.station_worker import DEFAULT_FLUSH_MS, DEFAULT_SCAN_MS, StationService

TICK_MS = 1_000
DRAWER_WIDTH = 460
PRODUCTION_COLOUR = "#b35400"


def retry_plan(request: RunRequest | None) -> str | None:
    """What a tile's Retry will use, in words (None: no request is chosen yet)."""
    if request is None:
        return None
    return (
        f"Provision this board again with task “{request.task}” into batch “{request.batch}”, "
        f"WiFi “{request.ssid}”"
    )


def drawer_reason(tile: PortTile | None) -> str:
    """The tile's reason in full once its run ended (or was refused); nothing while it runs."""
    if tile is None or tile.snapshot is None or not (tile.state.finished or tile.snapshot.refused):
        return ""
    return tile.full_text()


class StationPage(Page):
    title = "Station"
    icon = "station"
    order = 60  # STATION_ORDER in the registry
    port_count_changed = Signal(int)

    def __init__(
        self, context: PageContext, *, flush_ms: int = DEFAULT_FLUSH_MS, scan_ms: int = DEFAULT_SCAN_MS
    ) -> None:
        super().__init__(context)
        self.request: RunRequest | None = None
        self.prefill_password: str | None = None  # demo only: the simulated network's password
        self.counters = SessionCounters()
        self.lines: dict[str, PortLines] = {}
        self.results: list[PortResult] = []
        self.ports: dict[str, PortInfo] = {}
        self.titles: dict[str, str] = {}  # each port's title, unique (station_ports.port_titles)
        self.start_dialog: StartProvisioningDialog | None = None
        self.release_dialog: ReleaseConfirmDialog | None = None
        self.scanned = False
        self._asked: RunRequest | None = None  # the request the page is arming (as the person chose it)
        self._closed = False
        self.keys_hint = ""
        self.sound = ResultSound(context.settings, self)
        self._build()
        self._keys()

        self.service = StationService(context.instance, context.data_dir, flush_ms=flush_ms, scan_ms=scan_ms)
        worker = self.service.worker
        worker.ports_updated.connect(self.show_snapshots)
        worker.port_finished.connect(self.count_result)
        worker.ports_listed.connect(self.show_ports)
        worker.notice.connect(self.status.emit)
        worker.problem.connect(self.error.emit)
        worker.production_changed.connect(self._production_changed)
        context.settings.changed.connect(self._setting_changed)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self._ticker = QTimer(self)
        self._ticker.setInterval(TICK_MS)
        self._ticker.timeout.connect(self._tick)
        self.service.begin()
        self._sync_production()

    # --- layout ----------------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        self.production_button = QPushButton("Production mode: off")
        self.production_button.setCheckable(True)
        self.production_button.setToolTip(
            "When on, every board plugged in is provisioned with the chosen task at once, with no click"
        )
        self.production_button.toggled.connect(self.set_production_mode)
        self.dialog_button = QPushButton("Start provisioning…")
        self.dialog_button.setToolTip("Choose the task, the batch and the WiFi network the boards join")
        self.dialog_button.clicked.connect(self.open_start_dialog)
        self.start_button = QPushButton("Provision")
        self.start_button.setObjectName("primary")
        self.start_button.clicked.connect(self._start_or_stop)
        self.clear_button = QPushButton("Clear unplugged")
        self.clear_button.setToolTip("Remove the tiles of boards that were unplugged after their run")
        self.clear_button.clicked.connect(self.clear_unplugged)
        self.clear_button.hide()
        self.sound_button = QPushButton()
        self.sound_button.setCheckable(True)
        self.sound_button.setChecked(sound_on(self.context.settings))
        self.sound_button.setToolTip("Beep once when a board passes, twice when one fails")
        self.sound_button.toggled.connect(self._sound_toggled)
        self._sound_toggled(self.sound_button.isChecked())
        layout.addWidget(
            PageHeader(
                "Station",
                "One tile per port. Tick ports and press Provision, or switch on production mode.",
                self.clear_button,
                self.sound_button,
                self.production_button,
                self.dialog_button,
                self.start_button,
            )
        )
        self.production_banner = QLabel("")
        self.production_banner.setWordWrap(True)
        self.production_banner.setStyleSheet(
            f"background: {PRODUCTION_COLOUR}; color: white; font-weight: 600; padding: 6px 10px;"
            "border-radius: 4px;"
        )
        self.production_banner.hide()
        layout.addWidget(self.production_banner)
        self.request_label = QLabel("")
        self.request_label.setObjectName("hint")
        self.request_label.setWordWrap(True)
        layout.addWidget(self.request_label)
        self.counters_row = CountersRow()
        layout.addWidget(self.counters_row)

        body = QHBoxLayout()
        self.port_list = PortList()
        self.port_list.selection_changed.connect(self._ticked_changed)
        body.addWidget(self.port_list)
        self.grid = TileGrid()
        self.drawer = StationDrawer()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        tiles = tile_scroll_area(self.grid)
        tiles.setMinimumWidth(MIN_TILE_WIDTH + 24)
        self.splitter.addWidget(tiles)
        self.splitter.addWidget(self.drawer)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        body.addWidget(self.splitter, 1)
        layout.addLayout(body, 1)
        self._show_request()
        self._ticked_changed(0)

    def _keys(self) -> None:
        """F5 / Shift+F5 (or the keys chosen on Settings → Line) while this page is shown, for pedals."""
        self.start_shortcut = QShortcut(self)
        self.start_shortcut.activated.connect(self.start_from_key)
        self.stop_shortcut = QShortcut(self)
        self.stop_shortcut.activated.connect(self.stop_all)
        self._set_keys()

    def _set_keys(self) -> None:
        settings = self.context.settings
        self.start_shortcut.setKey(action_key(settings, START_ACTION))
        self.stop_shortcut.setKey(action_key(settings, STOP_ACTION))
        start, stop = key_name(self.start_shortcut.key()), key_name(self.stop_shortcut.key())
        self.keys_hint = f"{start} starts the ticked ports, {stop} stops every running board"
        self._update_start_button()

    def _sound_toggled(self, on: bool) -> None:
        set_sound(self.context.settings, on)
        self.sound_button.setText(f"Sound: {'on' if on else 'off'}")

    def start_from_key(self) -> None:
        """The start key: the ticked ports not already running (a second press never restarts a board)."""
        if self.context.settings.auto_start:
            self.status.emit("Production mode is on: boards start as they are plugged in")
            return
        if self.request is None:
            self.open_start_dialog()
            return
        running = set(self.running_ports())
        ports = [port for port in self.port_list.checked() if port not in running]
        if not ports:
            self.status.emit("Nothing to start: tick the ports to provision (running boards keep running)")
            return
        self._confirm_and_start(ports, self.request)

    # --- the request -----------------------------------------------------------------------------
    def accept_provisioning_request(self, request: RunRequest) -> None:
        """A request from a Start provisioning dialog (here or on the Provisioning page): it is kept
        and shown; boards start when the person presses Provision (or at once in production mode)."""
        self.request = request
        self.context.chosen.request = request
        self._show_request()
        for port_tile in self.grid.tiles.values():
            port_tile.set_retry_plan(retry_plan(request))
        self._ticked_changed(len(self.port_list.checked()))
        if self.context.settings.auto_start:
            self._sync_production()
        else:
            self.status.emit(
                f"Ready to provision {request.task!r} into {request.batch!r}: tick ports, press Provision"
            )

    def use_demo(self, request: RunRequest, ports: Sequence[str]) -> None:
        """The demo's request. Its password may be shown (masked) in the dialog; production mode starts it."""
        self.prefill_password = request.password
        self.accept_provisioning_request(request)
        if self.context.settings.auto_start and ports:
            self._start(list(ports), request, None)

    def _show_request(self) -> None:
        request = self.request
        if request is None:
            text = "No task chosen yet: “Start provisioning…” chooses the task, batch and WiFi network."
        else:
            text = (
                f"Task “{request.task}” → batch “{request.batch}” · boards join WiFi “{request.ssid}”"
                f"{' (password set)' if request.password else ' (open network)'}"
            )
        self.request_label.setText(text)

    def open_start_dialog(self) -> StartProvisioningDialog:
        request = self.request
        dialog = StartProvisioningDialog(
            self,
            self.instance,
            self.context.keyring,
            last=request,
        )
        if (
            request is not None
            and self.prefill_password is not None
            and request.password == self.prefill_password
        ):
            dialog.password.setText(self.prefill_password)
        dialog.requested.connect(self._dialog_requested)
        self.start_dialog = dialog
        dialog.open()
        return dialog

    def _dialog_requested(self, request: RunRequest) -> None:
        """The same as from the Provisioning page: keep the request, start nothing."""
        self.accept_provisioning_request(request)

    # --- manual starts ---------------------------------------------------------------------------
    def start_ticked(self) -> None:
        if self.request is None:
            self.open_start_dialog()
            return
        ticked = self.port_list.checked()
        if not ticked:
            self.status.emit("Tick the ports to provision first")
            return
        self._confirm_and_start(ticked, self.request)

    def _confirm_and_start(self, ports: list[str], request: RunRequest) -> None:
        """Dev tasks start at once; a release task first asks for the batch name."""

        def looked_up(task: ProvisioningTask) -> None:
            if task.bootloader is not BootloaderKind.RELEASE:
                self._start(ports, request, None)
                return
            boards = self._known_macs(ports)
            engine = self.service.engine
            self.call(
                lambda: engine.board_refusals(boards, request.batch),
                "Looking the boards up in the records",
                lambda refused: confirm(refused),
            )

        def confirm(refused: list[tuple[str, str]]) -> None:
            dialog = self._release_dialog(request, len(ports), refused)
            dialog.confirmed.connect(lambda typed: self._start(ports, request, typed))
            dialog.open()

        self.call(lambda: self.instance.get_task(request.task), "Looking up the task", looked_up)

    def _known_macs(self, ports: list[str]) -> list[tuple[str, str]]:
        """(title, MAC) of the ports whose board's MAC is known: from discovery, or from its last run."""
        known = []
        for port in ports:
            info = self.ports.get(port)
            port_tile = self.grid.tiles.get(port)
            mac = (info.mac if info is not None else None) or (
                port_tile.snapshot.mac if port_tile is not None and port_tile.snapshot is not None else ""
            )
            if mac:
                known.append((self.titles.get(port, port), mac))
        return known

    def _release_dialog(
        self, request: RunRequest, boards: int | None, refused: Sequence[tuple[str, str]] = ()
    ) -> ReleaseConfirmDialog:
        dialog = ReleaseConfirmDialog(self, request.task, request.batch, boards, refused)
        self.release_dialog = dialog
        return dialog

    def _start(self, ports: list[str], request: RunRequest, confirmation: str | None) -> None:
        if self._closed:
            return
        self.counters.started()
        self.service.start(ports, self._run_request(request, confirmation))
        self._ticker.start()
        boards = f"{len(ports)} board{'s' if len(ports) != 1 else ''}"
        self.status.emit(f"Provisioning {boards} with {request.task!r} into {request.batch!r}")

    def _run_request(self, request: RunRequest, confirmation: str | None) -> RunRequest:
        return request.confirmed(confirmation, self.context.settings.default_baud)

    def _ticked_changed(self, _count: int = 0) -> None:
        self._update_start_button()

    def _update_start_button(self) -> None:
        """Provision while nothing runs; Stop (every running board) while something does, in either mode."""
        running = len(self.running_ports())
        if running:
            text = f"■  Stop {running} board{'s' if running != 1 else ''}"
            enabled, tip = not self._closed, "Stop every running board and reset it (Retry starts it again)"
        else:
            count = len(self.port_list.checked())
            boards = f"Provision {count} board{'s' if count != 1 else ''}"
            text = boards if self.request is not None else f"{boards}…"
            production = self.context.settings.auto_start
            enabled = count > 0 and not self._closed and not production
            tip = (
                "Production mode starts each board as it is plugged in"
                if production
                else "Provision the ticked ports with the chosen task"
            )
        if self.keys_hint:
            tip = f"{tip}. {self.keys_hint}"
        # Only what changed: this runs on every coalesced update, and each Qt setter call costs.
        if text != self.start_button.text():
            self.start_button.setText(text)
        if enabled != self.start_button.isEnabled():
            self.start_button.setEnabled(enabled)
        if tip != self.start_button.toolTip():
            self.start_button.setToolTip(tip)

    def _start_or_stop(self) -> None:
        if self.running_ports():
            self.stop_all()
        else:
            self.start_ticked()

    def stop_all(self) -> None:
        """Cancel every run going (and every board waiting its turn); each board is reset."""
        ports = self.running_ports()
        for port in ports:
            self.service.cancel(port)
        if ports:
            self.status.emit(f"Stopping {len(ports)} board{'s' if len(ports) != 1 else ''}")

    def clear_unplugged(self) -> None:
        for port in [p for p, t in self.grid.tiles.items() if t.clearable]:
            self._clear(port)

    def _clear(self, port: str) -> None:
        """Forget an unplugged board's tile and lines (also when another board is plugged into its port)."""
        port_tile = self.grid.tiles.get(port)
        if port_tile is None or port_tile.state.busy:
            return
        self.grid.remove(port)
        self.lines.pop(port, None)
        if self.drawer.port == port:
            self.drawer.close_drawer()
        self._show_clearable()

    def _show_clearable(self) -> None:
        self.clear_button.setVisible(any(t.clearable for t in self.grid.tiles.values()))

    # --- production mode -------------------------------------------------------------------------
    def set_production_mode(self, on: bool) -> None:
        self.context.settings.set_auto_start(on)
        self._sync_production()

    def _setting_changed(self, key: str) -> None:
        if key == AUTO_START:
            self._sync_production()
        elif key in {action.setting for action in KEY_ACTIONS}:
            self._set_keys()
        elif key == SOUND_KEY and self.sound_button.isChecked() != sound_on(self.context.settings):
            self.sound_button.setChecked(sound_on(self.context.settings))

    def _sync_production(self) -> None:
        on = self.context.settings.auto_start
        self.production_button.blockSignals(True)
        self.production_button.setChecked(on)
        self.production_button.setText(f"Production mode: {'ON' if on else 'off'}")
        self.production_button.blockSignals(False)
        self.port_list.setVisible(not on)  # ticks choose ports for a manual start only: room for tiles
        self._ticked_changed(len(self.port_list.checked()))
        request = self.request
        if not on or request is None:
            self._disarm()
            self.production_banner.setVisible(on)
            self.production_banner.setText(
                "PRODUCTION MODE is on, but no task is chosen: use “Start provisioning…” first."
            )
            return
        if self._asked == request:
            return  # being armed already (the lookup or the worker's answer may still be on its way)
        self._asked = request

        def looked_up(task: ProvisioningTask) -> None:
            if task.bootloader is not BootloaderKind.RELEASE:
                self._arm(request, None)
                return
            dialog = self._release_dialog(request, None)
            dialog.confirmed.connect(lambda typed: self._arm(request, typed))
            dialog.rejected.connect(lambda: self.context.settings.set_auto_start(False))
            dialog.open()

        self.call(lambda: self.instance.get_task(request.task), "Looking up the task", looked_up)

    def _arm(self, request: RunRequest, confirmation: str | None) -> None:
        if self._closed or not self.context.settings.auto_start or request != self.request:
            return
        self.service.set_production(self._run_request(request, confirmation))

    def _disarm(self) -> None:
        if self._asked is not None and not self._closed:
            self.service.set_production(None)
        self._asked = None

    def _production_changed(self, armed: RunRequest | None) -> None:
        """The worker armed `armed` (or nothing): the banner says what it really does."""
        if self._closed or not self.context.settings.auto_start:
            return
        if armed is None:
            if self._asked is not None:  # arming failed; the error sink says why
                self._asked = None
                self.context.settings.set_auto_start(False)
            return
        self.counters.started()
        self.production_banner.setText(
            f"PRODUCTION MODE — every board plugged in is provisioned with task “{armed.task}” into "
            f"batch “{armed.batch}”, with no click."
        )
        self.production_banner.show()
        self.status.emit("Production mode is on: plug in boards")

    # --- what the station thread reports ---------------------------------------------------------
    def show_ports(self, ports: list[PortInfo]) -> None:
        self.scanned = True
        self.ports = {p.url: p for p in ports}
        self.titles = port_titles(ports)
        self.port_list.set_ports(ports)
        for port in ports:
            old = self.grid.tiles.get(port.url)
            if old is not None and old.clearable:  # a board plugged into the port of an unplugged one
                self._clear(port.url)
            tile = self._tile(port.url)
            tile.set_identity(self.titles[port.url], port_chip(port), port.description)
            tile.set_plugged(True)
        self.grid.resort()
        for url, tile in list(self.grid.tiles.items()):
            if url not in self.ports:
                if tile.run == 0:
                    self.grid.remove(url)
                else:
                    tile.set_plugged(False)
        self._show_clearable()
        self.context.attached.chips = self.attached_chips()
        self.port_count_changed.emit(len(ports))

    def attached_chips(self) -> tuple[ChipType, ...]:
        """The chip of each plugged-in board, where discovery or its last run told it."""
        chips = []
        for url, info in self.ports.items():
            chip = info.chip
            port_tile = self.grid.tiles.get(url)
            if chip is None and port_tile is not None and port_tile.snapshot is not None:
                with suppress(ValidationError):
                    chip = ChipType.parse(port_tile.snapshot.chip) if port_tile.snapshot.chip else None
            if chip is not None:
                chips.append(chip)
        return tuple(chips)

    def show_snapshots(self, snapshots: dict[str, PortSnapshot]) -> None:
        for port, snap in snapshots.items():
            port_tile = self._tile(port)
            port_tile.show_snapshot(snap)
            if port == self.drawer.port:
                self.drawer.set_reason(drawer_reason(port_tile))
            if snap.new_log or snap.new_console:
                lines = self.lines.get(port) or self.lines.setdefault(port, PortLines())
                lines.log.extend(snap.new_log)
                lines.console.extend(snap.new_console)
                self.drawer.append(port, snap.new_log, snap.new_console)
        self._show_counts()

    def count_result(self, result: PortResult) -> None:
        self.results.append(result)
        self.sound.result(result.outcome)
        self.counters.finished(result)
        self._show_counts()

    def running_ports(self) -> list[str]:
        return [port for port, tile in self.grid.tiles.items() if tile.state.busy]

    def _show_counts(self) -> None:
        running = len(self.running_ports())
        self.counters_row.show_counts(self.counters, running)
        self._update_start_button()
        if not running:
            self._ticker.stop()
        elif not self._ticker.isActive():
            self._ticker.start()

    def _tick(self) -> None:
        now = time.monotonic()
        for tile in self.grid.tiles.values():
            if tile.state.busy:
                tile.tick(now)
        self._show_counts()

    def _tile(self, url: str) -> PortTile:
        tile = self.grid.tiles.get(url)
        if tile is not None:
            return tile
        info = self.ports.get(url)
        title = self.titles.get(url, url)
        tile = PortTile(url, title, port_chip(info) if info else "", info.description if info else url)
        tile.cancel_requested.connect(self.service.cancel)
        tile.retry_requested.connect(self._retry)
        tile.reenrol_requested.connect(lambda port: self.accept_reenrol_request(port, self._batch()))
        tile.set_retry_plan(retry_plan(self.request))
        tile.log_requested.connect(lambda port: self.show_drawer(port, LOG_TAB))
        tile.details_requested.connect(lambda port: self.show_drawer(port, LOG_TAB))
        tile.clear_requested.connect(self._clear)
        tile.console_requested.connect(lambda port: self.show_drawer(port, CONSOLE_TAB))
        tile.copied.connect(lambda device_id: self.status.emit(f"DeviceID copied: {device_id}"))
        self.grid.add(tile)
        return tile

    def _retry(self, port: str) -> None:
        """Provision the board again with the request chosen now, not the one its last run used: the
        person who fixed a wrong WiFi password in Start provisioning… expects Retry to use it."""
        if self._closed:
            return
        if self.request is None:
            self.open_start_dialog()
            return
        self._confirm_and_start([port], self.request)

    def _batch(self) -> str:
        return self.request.batch if self.request is not None else ""

    def accept_reenrol_request(self, port: str, batch: str) -> None:
        """Re-enrol the board on `port` into `batch` with the WiFi chosen now, once the person agrees
        (asked from the Records page, or a tile's menu with the chosen batch; see station_reenrol.py)."""
        problem = reenrol_problem(port, self.request, set(self.ports), set(self.running_ports()))
        if problem is not None or self.request is None or self._closed:
            self.error.emit(problem or "The station is closing")
            return
        request = self.request.for_reenrol(batch)
        box, button = reenrol_question(self, self.titles.get(port, port), port, request)

        def answered(_result: int) -> None:
            if box.clickedButton() is button:
                self._start([port], request, None)

        box.finished.connect(answered)
        self.reenrol_box = box
        box.open()

    def show_drawer(self, port: str, tab: int) -> None:
        tile = self.grid.tiles.get(port)
        title = tile.title.text() if tile is not None else port
        opening = self.drawer.isHidden()
        reason = drawer_reason(tile)
        self.drawer.show_port(port, title, self.lines.setdefault(port, PortLines()), tab, reason)
        if opening:
            total = sum(self.splitter.sizes())
            drawer = min(DRAWER_WIDTH, max(0, total - 2 * MIN_TILE_WIDTH - 40))
            self.splitter.setSizes([total - drawer, drawer])

    # --- the end ---------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the station thread and every run (cancelled, boards reset). Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._ticker.stop()
        self.start_button.setEnabled(False)
        self.service.stop()

    def quit_question(self) -> str | None:
        """Closing stops every run: say how many, and whether a release bootloader is at stake."""
        if self._closed:
            return None
        running = [t for t in self.grid.tiles.values() if t.state.busy]
        if not running:
            return None
        count = len(running)
        text = (
            f"{count} board{'s are' if count != 1 else ' is'} still running — "
            f"stop {'them' if count != 1 else 'it'} and quit?"
        )
        release = [
            t.title.text()
            for t in running
            if t.snapshot is not None and t.snapshot.release and t.snapshot.step in (Step.FLASH, Step.BOOT)
        ]
        if release:
            text += (
                f"\n\n{len(release)} of them {'are' if len(release) != 1 else 'is'} having a RELEASE "
                f"bootloader written or started now ({', '.join(release)}): stopping it there can leave a "
                "board whose eFuses are burned but that does not boot. Let them finish if you can."
            )
        return text

    def closeEvent(self, event: QCloseEvent) -> None:
        """The page on its own (tests); in the window, the window's close calls `shutdown`."""
        self.shutdown()
        super().closeEvent(event)
