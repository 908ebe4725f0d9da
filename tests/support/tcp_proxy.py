"""A loopback TCP proxy whose link can be cut: the network between a station and its instance, for tests.

TLS passes through untouched (the proxy only copies bytes), so the client still verifies the server.
Modes, switchable at any time:

- "pass": copy both ways;
- "refuse": accept and close at once (a firewall that resets), and cut every open connection;
- "stall": accept, then never forward a byte (a link that hangs: the client's read timeout decides);
- "drop_after": forward, then close a connection after `drop_after_bytes` from the server (a link that
  dies mid-answer).
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress

BUFFER = 65536


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.mode = "pass"
        self.drop_after_bytes = 0
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def set_mode(self, mode: str, *, drop_after_bytes: int = 0) -> None:
        if mode not in ("pass", "refuse", "stall", "drop_after"):
            raise ValueError(f"unknown proxy mode {mode!r}")
        self.mode = mode
        self.drop_after_bytes = drop_after_bytes
        if mode == "refuse":
            self.cut()

    def cut(self) -> None:
        """Close every open connection (both ends)."""
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._listener.close()
        self.cut()

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            mode = self.mode
            if mode == "refuse":
                with suppress(OSError):
                    client.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
                client.close()
                continue
            with self._lock:
                self._open.add(client)
            if mode == "stall":
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.add(server)
            budget = [self.drop_after_bytes] if mode == "drop_after" else None
            threading.Thread(target=self._copy, args=(client, server, None), daemon=True).start()
            threading.Thread(target=self._copy, args=(server, client, budget), daemon=True).start()

    def _copy(self, source: socket.socket, sink: socket.socket, budget: list[int] | None) -> None:
        try:
            while True:
                data = source.recv(BUFFER)
                if not data:
                    break
                if budget is not None:
                    data = data[: budget[0]]
                    budget[0] -= len(data)
                sink.sendall(data)
                if budget is not None and budget[0] <= 0:
                    break
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
