"""Start the enrolment service for an instance on this computer (`ql-station serve`, the window, the CLI).

The service's TLS certificate is issued at each start by the instance's issuing CA, for every name a board
may have been told to connect to: the listen address, the instance's configured endpoint, and this
computer's own names (the sim's network sends those to this machine), so a board that received the
instance's root CA verifies the server and its name.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from app.domain.errors import StationError, ValidationError
from app.enrolment.service import EnrolmentService
from app.enrolment.tls import server_context
from app.instance.api import DEFAULT_IEF_PORT
from app.instance.local.instance import LocalInstance
from app.instance.local.pki import default_tls_hostnames
from app.system.listen_address import ListenAddress, listening_socket

DEFAULT_HOST = "127.0.0.1"


class EnrolListen(ListenAddress):
    """Where the enrolment service listens for devices."""

    @classmethod
    def parse(cls, text: str) -> EnrolListen:
        """`HOST:PORT`, `[IPv6]:PORT` or `HOST` (port 6000)."""
        return cls.parse_option(text, option="--enrol-listen", default_port=DEFAULT_IEF_PORT)


def certificate_names(listen: EnrolListen, endpoint: str) -> list[str]:
    names = [endpoint]
    try:
        wildcard = ipaddress.ip_address(listen.host).is_unspecified
    except ValueError:
        wildcard = False
    if not wildcard:
        names.append(listen.host)
    names += default_tls_hostnames()
    return list(dict.fromkeys(names))


def bind(listen: EnrolListen) -> socket.socket:
    return listening_socket(
        listen,
        purpose=" for enrolments",
        hint=" (another program, or another ql-station serve, may hold that port)",
        backlog=512,
    )


def start_enrolment(
    instance: LocalInstance,
    listen: EnrolListen,
    key_folder: Path,
    *,
    line_timeout: float = 10.0,
    connection_timeout: float = 30.0,
) -> EnrolmentService:
    """Issue the certificate, bind, and start serving; the caller stops the returned service."""
    endpoint = instance.instance_params().endpoint
    certificate = instance.issue_server_certificate(certificate_names(listen, endpoint))
    context = server_context(certificate, key_folder)
    sock = bind(listen)
    service = EnrolmentService(
        sock,
        context,
        instance.device_enrolment(),
        line_timeout=line_timeout,
        connection_timeout=connection_timeout,
    )
    service.start()
    return service


@dataclass
class BesideServer:
    """The enrolment service started by `ql-station serve`, or why it is not running."""

    service: EnrolmentService | None
    banner: str

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()


def start_beside_server(instance: LocalInstance, requested: str | None, key_folder: Path) -> BesideServer:
    """For `serve`: `requested` HOST:PORT must work (else ValidationError); `off` disables the service.

    With nothing requested the service takes 127.0.0.1 and the port boards are told (instance default
    6000); if that port is taken, the HTTPS server still serves and the banner says what to do, because
    the stations relying on it should not lose it over a port clash on the device side.
    """
    if requested is not None and requested.strip().lower() == "off":
        return BesideServer(None, "Enrolment service: off (--enrol-listen off)")
    if requested is not None:
        service = start_enrolment(instance, EnrolListen.parse(requested), key_folder)
    else:
        listen = EnrolListen(DEFAULT_HOST, instance.instance_params().port)
        try:
            service = start_enrolment(instance, listen, key_folder)
        except ValidationError as exc:
            return BesideServer(
                None, f"Enrolment service NOT running: {exc}; choose one with --enrol-listen HOST:PORT"
            )
    host = f"[{service.host}]" if ":" in service.host else service.host
    return BesideServer(service, f"Enrolment service for devices at {host}:{service.port} (TLS)")


def start_for_station(instance: object, key_folder: Path) -> BesideServer:
    """For the window or CLI on the built-in instance: serve enrolments where its boards are sent.

    Never raises: a remote instance enrols its devices itself, and a taken port, a signed-in user who may
    not issue certificates or a locked key only mean boards cannot enrol here; the banner says why.
    """
    if not isinstance(instance, LocalInstance):
        return BesideServer(None, "Enrolment service: run by the remote instance, not by this station")
    try:
        return start_beside_server(instance, None, key_folder)
    except StationError as exc:
        return BesideServer(None, f"Enrolment service NOT running: {exc}")
