"""A real instance behind a call counter: tests use it to prove how many requests a view made."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from app.instance.api import Instance


class CountingInstance:
    """Forwards every call to the real instance and records its name and PageRequest (not a mock)."""

    def __init__(self, inner: Instance) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()
        self.pages: list[tuple[str, Any]] = []
        self._lock = threading.Lock()  # calls arrive from the thread pool

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if not callable(target):
            return target

        def counted(*args: Any, **kwargs: Any) -> Any:
            page = kwargs.get("page", next((a for a in args if hasattr(a, "offset")), None))
            with self._lock:
                self.calls[name] += 1
                self.pages.append((name, page))
            return target(*args, **kwargs)

        return counted
