"""uvicorn over TLS with a certificate from the instance's own PKI, on a socket bound beforehand.

Binding first lets the caller print the real URL (port 0 picks a free port for tests) before serving.
The private key reaches the TLS library through a 0600 file in the data folder that exists only while
the context loads it: Python's `ssl` loads keys from files only, and the key must never be logged,
passed in argv or left on disk.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from app.instance.local.server_certificate import ServerCertificate
from app.system.listen_address import ListenAddress, listening_socket
from app.system.private_files import FILE_MODE

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8443


class Listen(ListenAddress):
    """Where `serve` listens for HTTPS."""

    @classmethod
    def parse(cls, text: str) -> Listen:
        """`HOST:PORT`, `[IPv6]:PORT` or `HOST` (port 8443)."""
        return cls.parse_option(text, option="--listen", default_port=DEFAULT_PORT)


def bind(listen: ListenAddress) -> socket.socket:
    sock = listening_socket(listen)
    # Connections accepted from this socket inherit it. Without it a response written in two parts
    # (headers, then body) waits for the client's delayed ACK: ~40 ms on every request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def tls_context(certificate: ServerCertificate, key_folder: Path) -> ssl.SSLContext:
    """A server context holding the chain and key; the key file is gone again when this returns."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    chain = key_folder / f".serve-{secrets.token_hex(8)}.chain.pem"
    key = key_folder / f".serve-{secrets.token_hex(8)}.key.pem"
    try:
        for path, data in (
            (chain, certificate.chain_pem.encode("ascii")),
            (key, certificate.private_key_pem),
        ):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(fd, "wb") as file:
                file.write(data)
        context.load_cert_chain(chain, key)
    finally:
        for path in (chain, key):
            with suppress(FileNotFoundError):
                path.unlink()
    return context


class _Server(uvicorn.Server):
    """uvicorn's server without its signal capture: it re-raises SIGTERM after shutting down, which
    ends the process by the signal (exit -15) instead of the clean exit 0 a service manager expects."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpsServer:
    """One uvicorn server on one bound socket; `run()` in the main thread, or `start()`/`stop()`."""

    def __init__(
        self, app: FastAPI, sock: socket.socket, context: ssl.SSLContext, *, access_log: bool = False
    ) -> None:
        self._sock = sock

        def factory(_config: uvicorn.Config, _default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
            return context

        config = uvicorn.Config(
            app,
            ssl_context_factory=factory,
            log_config=None,
            log_level="info" if access_log else "warning",
            access_log=access_log,
            timeout_graceful_shutdown=5,
            lifespan="off",
        )
        self._server = _Server(config)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        port: int = self._sock.getsockname()[1]
        return port

    def stop_on_signals(self) -> None:
        """SIGINT and SIGTERM stop the server gracefully (a second one stops it at once).

        Installed before the server announces itself, so a signal sent right after the banner is
        not lost to the default handler. Main thread only.
        """

        def handle(_signum: int, _frame: object) -> None:
            if self._server.should_exit:
                self._server.force_exit = True
            self._server.should_exit = True

        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, handle)

    def run(self) -> None:
        """Serve until `stop()` or, after `stop_on_signals()`, SIGINT or SIGTERM."""
        try:
            self._server.run(sockets=[self._sock])
        finally:
            self._sock.close()

    def start(self, timeout_s: float = 10.0) -> None:
        self._thread = threading.Thread(target=self.run, name=f"https-server-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the HTTPS server did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
