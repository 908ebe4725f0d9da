"""Failed sign-ins are limited per user and per address, so a password cannot be guessed at speed.

After `limit` failures within `window` for the same user name (any address) or the same address (any
user name), further attempts are refused without checking the password until the oldest failure ages
out. Time is a parameter (`clock`), so tests step it instead of sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from app.instance.wire import TooManySignInsError

DEFAULT_LIMIT = 5
DEFAULT_WINDOW_S = 60.0


class SignInLimits:
    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window_s: float = DEFAULT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, username: str, address: str) -> None:
        """Raise TooManySignInsError if this user name or this address may not try again yet."""
        now = self._clock()
        with self._lock:
            for key, who in ((_user_key(username), f"user {username[:64]!r}"), (f"a:{address}", address)):
                recent = self._recent(key, now)
                if len(recent) >= self._limit:
                    wait = max(1, math.ceil(recent[0] + self._window - now))
                    raise TooManySignInsError(
                        f"too many failed sign-ins for {who}: {len(recent)} in the last "
                        f"{self._window:.0f} s; try again in {wait} s"
                    )

    def failed(self, username: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            for key in (_user_key(username), f"a:{address}"):
                self._recent(key, now).append(now)

    def succeeded(self, username: str) -> None:
        """A right password clears the user's failures (not the address's: it may be trying others)."""
        with self._lock:
            self._failures.pop(_user_key(username), None)

    def _recent(self, key: str, now: float) -> deque[float]:
        recent = self._failures.setdefault(key, deque())
        while recent and recent[0] <= now - self._window:
            recent.popleft()
        return recent


def _user_key(username: str) -> str:
    return "u:" + username.strip().lower()
