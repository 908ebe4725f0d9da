"""Host-side helpers for the simulator tests: a quick RFC 2217 client, esptool sessions, a small IEF host
script and espsecure signing. The tests talk to virtual boards only through these, as the engine would.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import espsecure
import serial
import serial.rfc2217
from esptool.cmds import detect_chip, write_flash

from app.sim.ief import IefSettings


class SecureBootV2:
    """Sign, verify and digest with espsecure, as the instance does for real boards."""

    def __init__(self, key: Path, other_key: Path, workdir: Path) -> None:
        self.key = key
        self.other_key = other_key
        self._workdir = workdir
        self._count = 0

    def sign(self, data: bytes, key: Path | None = None) -> bytes:
        """Pad to 4 KiB and append the signature sector (espsecure sign_data, version "2")."""
        self._count += 1
        src = self._workdir / f"unsigned-{self._count}.bin"
        out = self._workdir / f"signed-{self._count}.bin"
        src.write_bytes(data)
        with (key or self.key).open("rb") as key_fh, src.open("rb") as data_fh:
            espsecure.sign_data("2", [key_fh], str(out), False, False, None, [], [], data_fh)
        return out.read_bytes()

    def verify(self, data: bytes, key: Path | None = None) -> None:
        """Raise esptool's FatalError unless `data` carries a valid signature by `key`."""
        self._count += 1
        path = self._workdir / f"verify-{self._count}.bin"
        path.write_bytes(data)
        with (key or self.key).open("rb") as key_fh, path.open("rb") as data_fh:
            espsecure.verify_signature("2", False, None, key_fh, data_fh)

    def digest(self, key: Path | None = None) -> bytes:
        """The public-key digest burned into eFuse, computed by espsecure itself."""
        with (key or self.key).open("rb") as fh:
            value: bytes = espsecure._digest_sbv2_public_key(fh)
        return value


REQUEST_NAMES = ("ql_rootCA", "ql_endpoint", "ql_port", "wifi_ssid", "wifi_password")
FAST_IEF = IefSettings(request_repeat=0.4, status_interval=0.3, join_delay=0.02)


class QuickRfc2217(serial.rfc2217.Serial):  # type: ignore[misc]
    """pyserial's RFC 2217 client without its slow waits (tests only; the engine has its own).

    Stock pyserial renegotiates every line setting whenever the read timeout changes (esptool changes it
    around each command) and polls for every acknowledgement in 50 ms sleeps; closing sleeps 0.3 s.
    Here a timeout change sends nothing, acknowledgements are polled every millisecond, and close does
    not sleep. What goes over the wire, and in which order, is unchanged.
    """

    _applied: tuple[object, ...] | None = None

    def _reconfigure_port(self) -> None:
        if self._write_timeout is not None:
            raise NotImplementedError("write_timeout is not supported over RFC 2217")
        wanted = (self._baudrate, self._bytesize, self._parity, self._stopbits, self._rtscts, self._xonxoff)
        if wanted == self._applied:
            return
        settings = self._rfc2217_port_settings
        settings["baudrate"].set(struct.pack("!I", self._baudrate))
        settings["datasize"].set(struct.pack("!B", self._bytesize))
        settings["parity"].set(struct.pack("!B", serial.rfc2217.RFC2217_PARITY_MAP[self._parity]))
        settings["stopsize"].set(struct.pack("!B", serial.rfc2217.RFC2217_STOPBIT_MAP[self._stopbits]))
        _wait_ready(list(settings.values()), self._network_timeout)
        self.rfc2217_set_control(serial.rfc2217.SET_CONTROL_USE_NO_FLOW_CONTROL)
        self._applied = wanted

    def rfc2217_set_control(self, value: bytes) -> None:
        item = self._rfc2217_options["control"]
        item.set(value)
        _wait_ready([item], self._network_timeout)

    def rfc2217_send_purge(self, value: bytes) -> None:
        item = self._rfc2217_options["purge"]
        item.set(value)
        _wait_ready([item], self._network_timeout)

    def close(self) -> None:
        self._applied = None
        self.is_open = False
        if self._socket:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
            self._socket.close()
        if self._thread:
            self._thread.join(7)
            self._thread = None
        self._socket = None


def _wait_ready(items: list[Any], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not all(item.is_ready() for item in items):
        if time.monotonic() > deadline:
            raise serial.SerialException("the RFC 2217 server did not acknowledge a change")
        time.sleep(0.001)


def open_port(
    url: str, baud: int = 115200, timeout: float = 0.05, lines_released: bool = True
) -> QuickRfc2217:
    port = QuickRfc2217(None)
    port.port = url
    port.baudrate = baud
    port.timeout = timeout
    if lines_released:
        port.dtr = False
        port.rts = False
    port.open()
    return port


def hard_reset(port: serial.SerialBase) -> None:
    """What esptool's hard reset and the engine do: EN pulsed by RTS with IO0 (DTR) released."""
    port.dtr = False
    port.rts = True
    time.sleep(0.1)
    port.rts = False


@contextlib.contextmanager
def esptool_session(url: str, baud: int | None = None) -> Iterator[Any]:
    """esptool (the library) connected with its default reset, stub running; the port closes after."""
    port = open_port(url, lines_released=False)
    try:
        esp = detect_chip(port)
        esp = esp.run_stub()
        if baud is not None:
            esp.change_baud(baud)
        yield esp
    finally:
        port.close()


def flash(url: str, images: list[tuple[int, bytes]], baud: int | None = 460800) -> None:
    with esptool_session(url, baud) as esp:
        write_flash(esp, images)


@dataclass
class IefResult:
    device_id: str | None = None
    requests: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    connected: bool = False

    def text(self) -> str:
        return "\n".join(self.lines)


class IefHost:
    """The test's stand-in for the engine: answers the IEF's requests, one line per request."""

    def __init__(
        self, port: serial.SerialBase, answers: dict[str, bytes | list[bytes]], ack: bytes = b"OK"
    ) -> None:
        self.port = port
        self.answers = {k: list(v) if isinstance(v, list) else [v] for k, v in answers.items()}
        self.ack = ack

    def _answer(self, request: str) -> bytes:
        queue = self.answers[request]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def run(self, timeout: float = 15.0, until: str = "status:") -> IefResult:
        result = IefResult()
        deadline = time.monotonic() + timeout
        buffer = b""
        after_marker = False
        while time.monotonic() < deadline:
            buffer += self.port.read(max(1, self.port.in_waiting))
            *complete, buffer = buffer.split(b"\n")
            for raw in complete:
                line = raw.replace(b"\r", b"").replace(b"\x00", b"").decode("utf-8", "replace")
                result.lines.append(line)
                if line == "IEF DATA":
                    after_marker = True
                    continue
                if after_marker and (line in REQUEST_NAMES or line.startswith("deviceID:")):
                    after_marker = False
                    result.requests.append(line)
                    if line.startswith("deviceID:"):
                        result.device_id = line.removeprefix("deviceID:")
                        self.port.write(self.ack + b"\n")
                    elif line in self.answers:
                        self.port.write(self._answer(line) + b"\n")
                if "wifi: connected with" in line:
                    result.connected = True
                if until in line:
                    return result
        return result


def run_firmware(
    url: str, answers: dict[str, bytes | list[bytes]], timeout: float = 15.0, until: str = "status:"
) -> IefResult:
    """Open the board's UART at 115200, hard-reset it and play the host side of the IEF protocol."""
    port = open_port(url)
    try:
        hard_reset(port)
        return IefHost(port, answers).run(timeout, until)
    finally:
        port.close()
