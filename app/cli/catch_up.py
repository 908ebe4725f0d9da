"""What a CLI command does first when it reaches the instance: deliver what is owed, refresh a stale mirror.

The window does both in the background (app/workers/connection_watch.py). A command-line station has no
background, so the first command that opens the instance does them: a field technician back on the
network runs any command and the DeviceIDs queued offline reach the instance. Neither step may stop the
command: an instance that cannot be reached leaves the outbox as it is and the mirror as old as it was.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TextIO

from app.domain.errors import InstanceUnavailableError, StationError
from app.instance.api import Instance
from app.instance.mirror.instance import MirrorInstance
from app.provisioning.device_journal import JournalState
from app.provisioning.device_push import deliver_owed
from app.provisioning.records import RecordsDB
from app.system.paths import DataDir

log = logging.getLogger(__name__)
MIRROR_MAX_AGE = timedelta(minutes=10)


def catch_up(instance: Instance, data_dir: DataDir, err: TextIO) -> None:
    """Refresh the mirror when it is older than MIRROR_MAX_AGE, then send the outbox if it holds anything."""
    if isinstance(instance, MirrorInstance):
        _refresh_if_stale(instance)
    if not data_dir.records_db.exists():
        return
    try:
        with RecordsDB(data_dir.records_db) as records:
            journal = records.journal
            if journal.count(JournalState.JOURNALED, JournalState.QUEUED) == 0:
                return
            recovered, report = deliver_owed(instance, journal)
    except StationError as exc:  # the records file is busy or unreadable: the command itself goes on
        log.warning("could not deliver the outbox: %s", exc)
        return
    if recovered:
        err.write(f"journal: {recovered} DeviceID(s) left unpushed by a stopped station were queued\n")
    if report.pushed or report.refused:
        err.write(
            f"outbox: {report.pushed} DeviceID(s) sent, {report.refused} refused, "
            f"{report.still_queued} still queued\n"
        )
    if report.refused:
        err.write("refused DeviceIDs need a decision: see `ql-station outbox`\n")


def _refresh_if_stale(mirror: MirrorInstance) -> None:
    data_from = mirror.store.oldest_refresh()
    if data_from is not None and datetime.now(UTC) - data_from < MIRROR_MAX_AGE:
        return
    try:
        mirror.refresh()
    except InstanceUnavailableError as exc:
        log.info("the mirror stays as it was: %s", exc)
