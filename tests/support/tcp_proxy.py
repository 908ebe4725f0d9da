"""A loopback TCP proxy whose link can be cut: the network between a station and its instance, for tests.

TLS passes through untouched (the proxy only copies bytes), so the client still verifies the server.
Modes, switchable at any time:

- "pass": copy both ways;
- "refuse": accept and close at once (a firewall that resets), and cut every open connection;
- "stall": accept, then never forward a byte (a link that hangs: the client's read timeout decides);
- "drop_answers": forward a request, then close the connection at the first byte of the answer once
  the client has sent more than `request_bytes` (past the TLS handshake): the server made the change,
  the client never hears so — the case idempotency keys exist for.

Switching to a failing mode cuts the open connections, so a client's pooled keep-alive connection
cannot carry on as if the link were fine.
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
        self.request_bytes = 0
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

    def set_mode(self, mode: str, *, request_bytes: int = 2000) -> None:
        if mode not in ("pass", "refuse", "stall", "drop_answers"):
            raise ValueError(f"unknown proxy mode {mode!r}")
        self.mode = mode
        self.request_bytes = request_bytes
        if mode != "pass":
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
            sent = [0]  # bytes the client sent on this connection
            limit = self.request_bytes if mode == "drop_answers" else None
            threading.Thread(target=self._copy, args=(client, server, sent, None), daemon=True).start()
            threading.Thread(target=self._copy, args=(server, client, sent, limit), daemon=True).start()

    def _copy(self, source: socket.socket, sink: socket.socket, sent: list[int], limit: int | None) -> None:
        """Copy `source` to `sink`; with `limit`, this is the answer side: stop once a request went by."""
        try:
            while True:
                data = source.recv(BUFFER)
                if not data:
                    break
                if limit is None:
                    sent[0] += len(data)
                elif sent[0] > limit:
                    break  # the request reached the server; its answer dies here
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
