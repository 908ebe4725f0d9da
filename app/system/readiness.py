"""Waiting until a descriptor has something to read: the one way the station does it.

poll(2) where there is one: select(2) fails for descriptors above 1024, which a station that has run all
day passes (workers, their pipes, sockets). Windows has only select, for sockets; there, it is used.
"""

from __future__ import annotations

import math
import select
import socket


def readable(source: int | socket.socket, timeout: float | None) -> bool:
    """True once `source` has data or its end to read, within `timeout` seconds (None: however long)."""
    if not hasattr(select, "poll"):
        wait = None if timeout is None else max(0.0, timeout)
        return bool(select.select([source], [], [], wait)[0])
    poller = select.poll()
    poller.register(source, select.POLLIN)  # a hang-up or an error is reported whatever is asked
    return bool(poller.poll(None if timeout is None else max(0, math.ceil(timeout * 1000))))
