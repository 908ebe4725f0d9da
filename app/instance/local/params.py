"""The parameters a board's IEF asks for: the instance endpoint, its port and the root CA.

The endpoint is checked as a hostname or IP literal because the IEF connects to exactly what it is
given; a typo here would only show up later as boards that never enrol.
"""

from __future__ import annotations

import ipaddress
import re
import sqlite3

from app.domain.errors import ValidationError
from app.domain.names import check_visible
from app.domain.records import InstanceParams
from app.instance.local import meta

MAX_HOSTNAME_LENGTH = 253
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def validate_endpoint(value: str) -> str:
    """Return the endpoint (hostname or IP address) trimmed, or say why it cannot be one.

    The IEF receives it as one line of its UART protocol, so a newline or any other invisible character
    is refused wherever it is, and so is an IPv6 scope (`%eth0`): it names an interface of this PC, which
    the board does not have.
    """
    check_visible(value, "the instance endpoint")
    text = value.strip()
    if not text:
        raise ValidationError("the instance endpoint cannot be empty; give a hostname or an IP address")
    if "%" in text:
        raise ValidationError(
            f"the endpoint {text!r} has an IPv6 scope ('%...'), which names a network interface of this "
            "PC, not of the board; give the address without it, or a hostname"
        )
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        pass
    if len(text) > MAX_HOSTNAME_LENGTH:
        raise ValidationError(
            f"the endpoint is {len(text)} characters; a hostname has at most {MAX_HOSTNAME_LENGTH}"
        )
    for label in text.rstrip(".").split("."):
        if not _LABEL.fullmatch(label):
            raise ValidationError(
                f"the endpoint {text!r} is not a valid hostname: part {label!r} must be 1-63 letters, "
                "digits or '-', not starting or ending with '-'"
            )
    return text


def validate_port(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"the port must be a whole number, not {value!r}")
    if not 1 <= value <= 65535:
        raise ValidationError(f"the port must be between 1 and 65535; got {value}")
    return value


def read(conn: sqlite3.Connection, root_ca_pem: str) -> InstanceParams:
    return InstanceParams(
        endpoint=meta.require(conn, meta.ENDPOINT),
        port=int(meta.require(conn, meta.PORT)),
        root_ca_pem=root_ca_pem,
    )


def write(conn: sqlite3.Connection, endpoint: str, port: int) -> None:
    meta.put(conn, meta.ENDPOINT, endpoint)
    meta.put(conn, meta.PORT, str(port))
