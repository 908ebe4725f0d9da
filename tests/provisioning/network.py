"""A network boundary that is down, in front of a real instance (the remote client's failure mode)."""

from __future__ import annotations

from app.instance.local.instance import LocalInstance


class NetworkDown:
    """The instance behind a network that is down: every add_devices call fails to connect."""

    def __init__(self, inner: LocalInstance) -> None:
        self._inner = inner
        self.calls = 0

    def add_devices(self, batch: str, device_ids: object) -> object:
        self.calls += 1
        raise ConnectionRefusedError(111, "Connection refused")

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)
