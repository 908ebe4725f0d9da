"""A served instance on loopback HTTPS (from the server's tests), for pairing from the window."""

from tests.server.conftest import serve, serving  # noqa: F401 - fixtures
