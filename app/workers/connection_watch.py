"""Where the window's data comes from, checked in the background: online or offline, and what is owed.

Every `interval_ms` (and when asked) one background call refreshes the mirror when the instance is a
`MirrorInstance` — which is also how the window notices the instance is back — and counts what the
station owes it (queued DeviceIDs) and what needs a person (refused ones). The result, a
`ConnectionState`, is emitted on the GUI thread for the banner and the status bar. The built-in
instance is always "online": it is a file on this computer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from app.domain.errors import InstanceUnavailableError, StationError
from app.instance.api import Instance
from app.instance.mirror.instance import MirrorInstance
from app.provisioning.device_journal import JournalState
from app.workers.background import CallFailure, start_call
from app.workers.records_file import RecordsFile

log = logging.getLogger(__name__)
INTERVAL_MS = 60_000
OFFLINE_INTERVAL_MS = 10_000  # offline, look for the instance more often: the line waits for it


@dataclass(frozen=True)
class ConnectionState:
    online: bool
    data_from: datetime | None = None  # offline: how old the mirrored data is
    offline_since: datetime | None = None
    reason: str = ""
    queued: int = 0  # DeviceIDs waiting in the outbox
    needs_attention: int = 0  # refused DeviceIDs waiting for a person


class ConnectionWatch(QObject):
    changed = Signal(object)  # ConnectionState

    def __init__(self, instance: Instance, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.instance = instance
        self.state = ConnectionState(online=True)
        self._records = RecordsFile(data_dir)
        self._busy = False
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.check)
        self._timer.start(INTERVAL_MS)

    def check(self) -> None:
        """Refresh now (one check at a time; a check asked during another is the same check)."""
        if self._busy:
            return
        self._busy = True
        start_call(self._look, "Checking the instance", self._looked, self._failed, owner=self)

    def stop(self) -> None:
        self._timer.stop()
        self._records.close()

    # --- on a worker thread ----------------------------------------------------------------------
    def _look(self) -> ConnectionState:
        online, data_from, since, reason = True, None, None, ""
        if isinstance(self.instance, MirrorInstance):
            try:
                self.instance.refresh()
            except InstanceUnavailableError as exc:
                log.info("instance still unreachable: %s", exc)
            status = self.instance.status()
            online, data_from, since, reason = (
                status.online,
                status.data_from,
                status.offline_since,
                status.reason,
            )
        queued = attention = 0
        try:
            journal = self._records.db().journal
            queued = journal.count(JournalState.JOURNALED, JournalState.QUEUED)
            attention = journal.count_needing_attention()
        except StationError as exc:
            log.warning("cannot count the outbox: %s", exc)
        return ConnectionState(online, data_from, since, reason, queued, attention)

    # --- on the GUI thread -------------------------------------------------------------------------
    def _looked(self, state: ConnectionState) -> None:
        self._busy = False
        self._timer.setInterval(INTERVAL_MS if state.online else OFFLINE_INTERVAL_MS)
        self.state = state
        self.changed.emit(state)

    def _failed(self, failure: CallFailure) -> None:
        self._busy = False
        log.warning("checking the instance failed: %s", failure.message)
