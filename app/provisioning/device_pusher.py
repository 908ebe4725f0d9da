"""One thread that takes journaled DeviceIDs to the instance, so no board ever waits for the instance.

Boards hand their journal entries to `submit` and go on (joining WiFi, finishing); the answer comes back
through a callback when the instance gives it. While the instance cannot be asked (network down, its
database held by another process) the pusher does not try each board in turn, each waiting out a
timeout: the first failure marks the instance unreachable, and every entry submitted until the next
retry is queued at once. Retries come with a growing pause (`RetryPolicy`) and deliver the whole outbox
in order, so what was queued during an outage reaches the instance when it is back, without anyone
asking.

Nothing here can lose an entry: it is in the journal before `submit`, and whatever this thread does
not settle (the station closes, the journal cannot be written) stays owed and is found again.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from app.domain.errors import StationError
from app.instance.api import Instance
from app.provisioning.device_journal import DeviceJournal, JournalEntry, JournalState
from app.provisioning.device_push import PushResult, deliver, flush_outbox

PushCallback = Callable[[JournalEntry, PushResult], None]
Clock = Callable[[], float]


@dataclass(frozen=True)
class RetryPolicy:
    first_s: float = 1.0
    longest_s: float = 30.0

    def after(self, pause: float) -> float:
        return min(self.longest_s, max(self.first_s, pause * 2))


class DevicePusher:
    def __init__(
        self,
        instance: Instance,
        journal: DeviceJournal,
        *,
        retry: RetryPolicy = RetryPolicy(),
        clock: Clock = time.monotonic,
    ) -> None:
        self._instance = instance
        self._journal = journal
        self._retry = retry
        self._clock = clock
        self._cond = threading.Condition()
        self._waiting: deque[tuple[JournalEntry, PushCallback]] = deque()
        self._offline_reason = ""
        self._pause = 0.0
        self._retry_at: float | None = 0.0  # deliver the outbox first thing: it may hold old entries
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name="device-pusher", daemon=True)
        self._thread.start()

    @property
    def offline_reason(self) -> str:
        """Why the instance is being treated as unreachable ("" while it is not)."""
        with self._cond:
            return self._offline_reason

    def submit(self, entry: JournalEntry, done: PushCallback) -> None:
        """Push `entry` as soon as possible; `done` is called on the pusher's thread with the answer."""
        with self._cond:
            if self._closing:
                raise RuntimeError("the pusher is closed")
            self._waiting.append((entry, done))
            self._cond.notify()

    def close(self) -> None:
        """Queue what was not tried yet, finish the push in progress, stop the thread."""
        with self._cond:
            self._closing = True
            left = list(self._waiting)
            self._waiting.clear()
            self._cond.notify()
        for entry, done in left:
            self._settle_queued(entry, done, "the station closed before it could push it")
        self._thread.join()

    # --- the thread --------------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closing and not self._waiting and not self._retry_due():
                    self._cond.wait(self._wait_time())
                if self._closing:
                    return
                item = self._waiting.popleft() if self._waiting else None
            if item is None:
                self._flush()
            elif self._offline():
                self._settle_queued(*item, self._offline_reason)
            else:
                self._push(*item)

    def _push(self, entry: JournalEntry, done: PushCallback) -> None:
        try:
            result = deliver(self._instance, self._journal, entry)
        except StationError:
            return  # the journal could not be written: the entry stays owed, found at the next start
        if result.state is JournalState.QUEUED:
            self._went_offline(result.message)
        done(entry, result)

    def _flush(self) -> None:
        try:
            report = flush_outbox(self._instance, self._journal)
        except StationError as error:
            self._went_offline(str(error))
            return
        with self._cond:
            if report.unreachable:
                self._went_offline_locked(report.unreachable)
            else:
                self._offline_reason, self._pause, self._retry_at = "", 0.0, None

    def _settle_queued(self, entry: JournalEntry, done: PushCallback, reason: str) -> None:
        try:
            self._journal.settle(entry.id, JournalState.QUEUED, reason)
        except StationError:
            return  # still `journaled`: queued at the next start
        message = f"DeviceID {entry.device_id} is queued for batch {entry.batch!r}: {reason}"
        done(entry, PushResult(JournalState.QUEUED, message))

    def _offline(self) -> bool:
        with self._cond:
            return bool(self._offline_reason)

    def _went_offline(self, reason: str) -> None:
        with self._cond:
            self._went_offline_locked(reason)

    def _went_offline_locked(self, reason: str) -> None:
        self._offline_reason = reason
        self._pause = self._retry.after(self._pause)
        self._retry_at = self._clock() + self._pause

    def _retry_due(self) -> bool:
        return self._retry_at is not None and self._clock() >= self._retry_at

    def _wait_time(self) -> float | None:
        if self._retry_at is None:
            return None
        return max(0.0, self._retry_at - self._clock())
