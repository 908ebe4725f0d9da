"""A served instance over real HTTPS on loopback, for the server's own tests.

Built from the same parts as `ql-station serve` (the instance's PKI, uvicorn, the FastAPI app); the
serve command's own process is tested in test_serve_cmd.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.domain.kinds import Role
from app.instance.remote.connection import Connection
from app.instance.remote.instance import RemoteInstance
from app.server.http_api import create_app
from app.server.https_server import HttpsServer, Listen, bind, tls_context
from app.server.served_instance import ServedInstance
from app.server.sign_in_limits import SignInLimits

PASSWORD = "a long enough test password"


@dataclass
class Serving:
    served: ServedInstance
    url: str
    ca_file: Path
    clients: list[RemoteInstance]

    def admin(self) -> RemoteInstance:
        """The built-in local administrator, with a token from the serving process."""
        return self.client(self.served.issue_token(None))

    def client(self, token: str | None) -> RemoteInstance:
        instance = RemoteInstance(Connection(self.url, self.ca_file, token=token))
        self.clients.append(instance)
        return instance

    def sign_in(self, username: str, password: str = PASSWORD) -> RemoteInstance:
        instance = RemoteInstance.sign_in(self.url, self.ca_file, username, password)
        self.clients.append(instance)
        return instance

    def add_user(self, username: str, role: Role) -> None:
        self.served.station.create_user(username, PASSWORD, role)


ServeFactory = Callable[..., Serving]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeFactory]:
    """`serve(max_ids=..., limits=...)` starts a fresh served instance; all stop at teardown."""
    stops: list[Callable[[], None]] = []

    def start(*, max_ids: int | None = None, limits: SignInLimits | None = None) -> Serving:
        folder = tmp_path / f"served-{len(stops)}"
        served = ServedInstance(folder / "instance.sqlite3", limits=limits)
        certificate = served.station.issue_server_certificate(["127.0.0.1", "localhost"])
        ca_file = folder / "paired-root-ca.pem"
        ca_file.write_text(next(c.pem for c in served.station.certificates() if c.role == "root"))
        options = {} if max_ids is None else {"max_ids": max_ids}
        server = HttpsServer(
            create_app(served, **options), bind(Listen("127.0.0.1", 0)), tls_context(certificate, folder)
        )
        server.start()
        serving = Serving(served, f"https://127.0.0.1:{server.port}", ca_file, [])

        def stop() -> None:
            for client in serving.clients:
                client.close()
            server.stop()
            served.close()

        stops.append(stop)
        return serving

    yield start
    for stop in reversed(stops):
        stop()


@pytest.fixture
def serving(serve: ServeFactory) -> Serving:
    return serve()
