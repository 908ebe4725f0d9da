"""A fresh local instance served over HTTPS on 127.0.0.1, and `RemoteInstance` handles on it.

uvicorn on a thread, a certificate from the instance's own PKI, and clients that trust only that
instance's root CA: what the contract suite's "remote" and "mirror" implementations and the mirror's
offline tests (with a proxy in between) talk to. A handle for the built-in administrator gets its token
from the serving process itself (as the owner of the data folder may); a handle for a named user signs
in over HTTP with CONTRACT_PASSWORD.
"""

from __future__ import annotations

from pathlib import Path

from app.instance.api import Instance
from app.instance.remote.connection import Connection
from app.instance.remote.instance import RemoteInstance
from app.server.http_api import create_app
from app.server.https_server import HttpsServer, Listen, bind, tls_context
from app.server.served_instance import ServedInstance

CONTRACT_PASSWORD = "correct horse battery"


class ServedInstanceForTests:
    """A fresh local instance served over HTTPS on 127.0.0.1; handles are RemoteInstance clients."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.served = ServedInstance(folder / "instance.sqlite3")
        try:
            certificate = self.served.station.issue_server_certificate(["127.0.0.1"])
            self.ca_file = folder / "paired-root-ca.pem"
            root = next(c for c in self.served.station.certificates() if c.role == "root")
            self.ca_file.write_text(root.pem)
            sock = bind(Listen("127.0.0.1", 0))
            self.server = HttpsServer(create_app(self.served), sock, tls_context(certificate, folder))
            self.server.start()
        except BaseException:
            self.served.close()
            raise
        self.url = f"https://127.0.0.1:{self.server.port}"
        self._opened: list[RemoteInstance] = []

    def __call__(self, actor: str | None = None) -> Instance:
        if actor is None:
            token = self.served.issue_token(None)
            instance = RemoteInstance(Connection(self.url, self.ca_file, token=token))
        else:
            instance = RemoteInstance.sign_in(self.url, self.ca_file, actor, CONTRACT_PASSWORD)
        self._opened.append(instance)
        return instance

    def close(self) -> None:
        for instance in self._opened:
            instance.close()
        self.server.stop()
        self.served.close()
