"""A network boundary that is down, in front of a real instance (the remote client's failure mode)."""

from __future__ import annotations

from app.instance.local.instance import LocalInstance


class NetworkDown:
    """The instance behind a network that is down: add_devices calls fail to connect (after the first
    `fail_after` ones, which reach the instance: a link that goes down during a delivery)."""

    def __init__(self, inner: LocalInstance, fail_after: int = 0) -> None:
        self._inner = inner
        self._fail_after = fail_after
        self.calls = 0

    def add_devices(self, batch: str, device_ids: list[str]) -> object:
        self.calls += 1
        if self.calls <= self._fail_after:
            return self._inner.add_devices(batch, device_ids)
        raise ConnectionRefusedError(111, "Connection refused")

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)
