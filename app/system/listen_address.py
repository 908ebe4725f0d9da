"""Where a server of the station listens: `HOST:PORT` as a person types it, and the socket bound there.

One parser and one binder for every listening option (`serve --listen`, `serve --enrol-listen`), so
they accept the same forms and fail with the same kind of sentence. Binding before serving lets the
caller print the real address (port 0 picks a free port).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Self

from app.domain.errors import ValidationError


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int

    @property
    def url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    @classmethod
    def parse_option(cls, text: str, *, option: str, default_port: int) -> Self:
        """`HOST:PORT`, `[IPv6]:PORT` or `HOST` (then `default_port`); `option` names it in the error."""
        value = text.strip()
        host, port_text = value, str(default_port)
        if value.startswith("["):
            host, _, rest = value[1:].partition("]")
            if rest:
                port_text = rest.removeprefix(":")
        elif value.count(":") == 1:
            host, port_text = value.split(":")
        if not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise ValidationError(f"{option} takes HOST:PORT (e.g. 0.0.0.0:{default_port}); got {text!r}")
        return cls(host, int(port_text))


def listening_socket(
    address: ListenAddress, *, purpose: str = "", hint: str = "", backlog: int | None = None
) -> socket.socket:
    """A socket bound and listening at `address`, or a ValidationError saying why not.

    `purpose` (" for enrolments") and `hint` (what may hold the port) complete the sentence."""
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(address.host).version == 6 else socket.AF_INET
    except ValueError:
        family = socket.AF_INET
    try:
        return socket.create_server((address.host, address.port), family=family, backlog=backlog)
    except OSError as exc:
        raise ValidationError(
            f"cannot listen{purpose} on {address.host}:{address.port}: {exc.strerror or exc}{hint}"
        ) from None
