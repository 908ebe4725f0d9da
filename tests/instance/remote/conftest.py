"""The served instance on loopback HTTPS from the server's tests, for the client's tests too."""

from tests.server.conftest import serve, serving  # noqa: F401 - fixtures
