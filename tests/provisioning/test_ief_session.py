"""The IEF session against a scripted fake board on the other end of a real loopback TCP connection.

The fake board (test code) plays the IEF's side of the UART: boot noise, `IEF DATA` markers, request
lines, reading each reply with one read. The station side opens it as pyserial `socket://`, as it
would open a virtual board. A small spy around that pyserial port records each write call.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import serial

from app.provisioning.ief_session import (
    MASK,
    MAX_LINE_BYTES,
    IefAnswers,
    IefConnectionLostError,
    IefError,
    IefLine,
    IefRequest,
    IefResult,
    IefTimeoutError,
    IefWifiRejectedError,
    NetworkState,
    run_ief_session,
)
from app.provisioning.station_replies import StationRefusedError
from tests.support.scripted_port import Clock, ScriptedPort

PASSWORD = "correct-horse-battery-9"
ROOT_CA = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2Vy\n-----END CERTIFICATE-----\n"
ANSWERS = IefAnswers(
    root_ca_pem=ROOT_CA, endpoint="ql.example.net", port=6000, ssid="line-7", password=PASSWORD
)
DEVICE_ID = hashlib.sha256(b"board-1 enrolment key").hexdigest()
MARK = b"IEF DATA\x00\r\n"
ROM_BOOT = (
    b"ESP-ROM:esp32c3-api1-20210207\r\nBuild:Feb  7 2021\r\n"
    b"rst:0x1 (POWERON),boot:0xc (SPI_FAST_FLASH_BOOT)\r\n"
)


@dataclass
class Send:
    data: bytes
    pause: float = 0.0


@dataclass
class Reply:
    """The board reads one reply with one read, like the IEF (at most 1024 bytes)."""


@dataclass
class Pause:
    seconds: float


@dataclass
class FakeBoard:
    script: list[Send | Reply | Pause]
    replies: list[bytes] = field(default_factory=list)
    received: bytes = b""
    error: str = ""
    done: threading.Event = field(default_factory=threading.Event)

    def wait(self) -> FakeBoard:
        """Until the board has run its whole script (read every reply it expects)."""
        assert self.done.wait(timeout=5), "fake board did not finish its script"
        return self

    def serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            for step in self.script:
                if isinstance(step, Send):
                    conn.sendall(step.data)
                    time.sleep(step.pause)
                elif isinstance(step, Pause):
                    time.sleep(step.seconds)
                else:
                    data = self._read_line(conn)
                    self.replies.append(data)
        except OSError as err:
            self.error = str(err)
        finally:
            self.done.set()

    def _read_line(self, conn: socket.socket) -> bytes:
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(1024)
            if not chunk:
                break
            data += chunk
            self.received += chunk
        return data


class SpyPort:
    """Delegates to a real pyserial port and remembers every write call."""

    def __init__(self, port: Any) -> None:
        self._port = port
        self.writes: list[bytes] = []

    @property
    def timeout(self) -> float | None:
        value: float | None = self._port.timeout
        return value

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        self._port.timeout = value

    @property
    def in_waiting(self) -> int:
        value: int = self._port.in_waiting
        return value

    def read(self, size: int = 1) -> bytes:
        data: bytes = self._port.read(size)
        return data

    def write(self, data: bytes) -> int | None:
        self.writes.append(bytes(data))
        written: int | None = self._port.write(data)
        return written


@pytest.fixture
def connect() -> Iterator[Any]:
    opened: list[tuple[socket.socket, threading.Thread, Any]] = []

    def _connect(board: FakeBoard) -> SpyPort:
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(1)

        opened_port = threading.Event()

        def run() -> None:
            conn, _ = server.accept()
            # pyserial empties its input buffer while opening socket://: speak only once it is open
            opened_port.wait(timeout=5)
            with conn:
                board.serve(conn)
                time.sleep(0.2)  # let the station read the last bytes before the line drops

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        port = serial.serial_for_url(f"socket://127.0.0.1:{server.getsockname()[1]}", timeout=1)
        opened_port.set()
        opened.append((server, thread, port))
        return SpyPort(port)

    yield _connect
    for server, thread, port in opened:
        port.close()
        thread.join(timeout=5)
        server.close()


def _request(name: str) -> list[Send | Reply | Pause]:
    return [Send(MARK), Send(name.encode() + b"\r\n"), Reply()]


def _full_script(device_id: str = DEVICE_ID) -> list[Send | Reply | Pause]:
    script: list[Send | Reply | Pause] = [Send(ROM_BOOT), Send(b"I (312) ief: starting enrolment\r\n")]
    for request in IefRequest:
        script += _request(request.value)
    return [*script, Send(MARK), Send(f"deviceID:{device_id}\r\n".encode()), Reply()]


def _run(port: SpyPort, answers: IefAnswers = ANSWERS, **kwargs: Any) -> tuple[Any, list[IefLine]]:
    lines: list[IefLine] = []
    result = run_ief_session(port, answers, on_line=lines.append, **kwargs)
    return result, lines


def test_normal_run_answers_every_request(connect: Any) -> None:
    board = FakeBoard(_full_script())
    port = connect(board)
    result, lines = _run(port)
    assert result.device_id == DEVICE_ID
    assert result.answered == tuple(IefRequest)
    assert board.wait().replies == [
        b"MIIBszCCAVmgAwIBAgIUQ2Vy\n",  # the certificate's DER in base64: the PEM body, one line
        b"ql.example.net\n",
        b"6000\n",
        b"line-7\n",
        PASSWORD.encode() + b"\n",
        b"OK\n",
    ]
    assert port.writes == board.replies  # one write call per reply, each one whole line
    board_lines = [line.text for line in lines if line.source == "board"]
    assert board_lines[:3] == ["ESP-ROM:esp32c3-api1-20210207", "Build:Feb  7 2021", board_lines[2]]
    assert "I (312) ief: starting enrolment" in board_lines
    protocol = [line.text for line in lines if line.source == "protocol"]
    assert "wifi_password -> ********" in protocol
    assert "ql_endpoint -> ql.example.net" in protocol
    assert f"deviceID {DEVICE_ID} -> OK" in protocol


def test_already_configured_board_only_sends_device_id(connect: Any) -> None:
    board = FakeBoard([Send(ROM_BOOT), Send(MARK), Send(f"deviceID:{DEVICE_ID.upper()}\n".encode()), Reply()])
    result, _ = _run(connect(board))
    assert result.device_id == DEVICE_ID  # canonical lowercase
    assert result.answered == ()
    assert board.wait().replies == [b"OK\n"]


def test_nul_crlf_and_lines_split_across_reads(connect: Any) -> None:
    pieces = [
        b"\x00\x00I (1) x: a\r",
        b"\n",
        b"IEF D",
        b"ATA",
        b"\x00",
        b"\r\nql_end",
        b"point",
        b"\r",
        b"\n",
    ]
    script: list[Send | Reply | Pause] = [Send(p, pause=0.06) for p in pieces]
    script += [Reply(), Send(b"IEF DATA\x00deviceID:" + DEVICE_ID[:30].encode(), pause=0.1)]
    script += [Send(DEVICE_ID[30:].encode() + b"\r\n"), Reply()]
    board = FakeBoard(script)
    result, lines = _run(connect(board))
    assert board.wait().replies == [b"ql.example.net\n", b"OK\n"]
    assert result.answered == (IefRequest.ENDPOINT,)
    assert result.device_id == DEVICE_ID
    assert [line.text for line in lines if line.source == "board"] == ["I (1) x: a"]


def test_log_output_interleaved_with_the_protocol(connect: Any) -> None:
    noisy = b"\x1b[0;32mI (845) wifi:mode : sta (24:0a:c4:1f:67:7d)\x1b[0m\r\n"
    script: list[Send | Reply | Pause] = [
        Send(ROM_BOOT),
        Send(MARK),
        Send(noisy),
        Send(b"W (850) ief: slow flash\r\n"),
    ]
    script += [Send(b"wifi_ssid\r\n"), Reply(), Send(b"some free text from a debug build\r\n")]
    script += [Send(MARK), Send(noisy), Send(f"deviceID:{DEVICE_ID}\n".encode()), Reply()]
    board = FakeBoard(script)
    result, lines = _run(connect(board))
    assert result.answered == (IefRequest.WIFI_SSID,)
    board_lines = [line.text for line in lines if line.source == "board"]
    assert board_lines.count("I (845) wifi:mode : sta (24:0a:c4:1f:67:7d)") == 2  # colour codes removed
    assert "W (850) ief: slow flash" in board_lines
    assert "some free text from a debug build" in board_lines


def test_garbage_after_the_marker_is_ignored_then_named_by_the_timeout(connect: Any) -> None:
    board = FakeBoard(
        [Send(b"\xff\xfe random boot noise\r\n"), Send(MARK), Send(b"ql_give_me_keys\r\n"), Pause(1.0)]
    )
    port = connect(board)
    with pytest.raises(IefTimeoutError) as err:
        _run(port, request_timeout=0.4)
    message = str(err.value)
    assert "after 'IEF DATA' the board sent 'ql_give_me_keys', which is not a request" in message
    assert "ql_rootCA, ql_endpoint, ql_port, wifi_ssid, wifi_password or deviceID:<64 hex>" in message
    assert port.writes == []


def test_no_marker_times_out_naming_what_was_awaited(connect: Any) -> None:
    board = FakeBoard([Send(ROM_BOOT), Pause(1.0)])
    with pytest.raises(IefTimeoutError) as err:
        _run(connect(board), request_timeout=0.4)
    message = str(err.value)
    assert message.startswith("no answer from the board within 0.4 s (answered: nothing yet)")
    assert "waiting for the 'IEF DATA' marker" in message
    assert "last line was 'rst:0x1 (POWERON),boot:0xc (SPI_FAST_FLASH_BOOT)'" in message


def test_silence_after_a_request_times_out(connect: Any) -> None:
    board = FakeBoard([*_request("ql_port"), Pause(1.0)])
    with pytest.raises(IefTimeoutError) as err:
        _run(connect(board), request_timeout=0.4)
    assert "(answered: ql_port); waiting for the next request or the board's DeviceID" in str(err.value)


def test_overall_timeout_even_while_requests_keep_coming(connect: Any) -> None:
    script: list[Send | Reply | Pause] = []
    for _ in range(8):
        script += [*_request("wifi_ssid"), Pause(0.2)]
    board = FakeBoard(script)
    with pytest.raises(IefTimeoutError) as err:
        _run(connect(board), overall_timeout=0.8, request_timeout=0.5)
    assert re.match(
        r"the IEF exchange did not finish within 0\.8 s \(answered: wifi_ssid x[2-8]\)", str(err.value)
    )


def test_too_long_root_ca_is_refused_and_nothing_sent(connect: Any) -> None:
    huge = "-----BEGIN CERTIFICATE-----\n" + "A" * 1100 + "\n-----END CERTIFICATE-----\n"
    answers = IefAnswers(huge, "ql.example.net", 6000, "line-7", PASSWORD)
    board = FakeBoard([*_request("ql_rootCA"), Pause(0.3)])
    port = connect(board)
    with pytest.raises(IefError) as err:
        _run(port, answers)
    message = str(err.value)
    size = 1100 + 1  # the PEM body is already the base64 of the DER that is sent
    assert f"the answer to ql_rootCA would be {size} bytes" in message
    assert "at most 1023 bytes per reply; nothing was sent" in message
    assert "root CA certificate is too large" in message
    assert port.writes == []


def test_reply_of_exactly_1023_bytes_is_sent_whole(connect: Any) -> None:
    ssid = "s" * 1022
    board = FakeBoard([*_request("wifi_ssid"), Send(MARK), Send(f"deviceID:{DEVICE_ID}\n".encode()), Reply()])
    port = connect(board)
    _run(port, IefAnswers(ROOT_CA, "ql.example.net", 6000, ssid, PASSWORD))
    assert port.writes[0] == ssid.encode() + b"\n"
    assert len(port.writes[0]) == 1023


def test_line_break_in_an_answer_is_refused(connect: Any) -> None:
    board = FakeBoard([*_request("wifi_ssid"), Pause(0.3)])
    port = connect(board)
    with pytest.raises(IefError, match="the answer to wifi_ssid contains a line break"):
        _run(port, IefAnswers(ROOT_CA, "ql.example.net", 6000, "line\n7", PASSWORD))
    assert port.writes == []


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("1234", "a DeviceID is exactly 64 hexadecimal characters, this one has 4"),
        ("g" * 64, "'g' at position 1 is not one"),
        ("", "a DeviceID cannot be empty"),
    ],
)
def test_bad_device_id_is_refused(connect: Any, sent: str, expected: str) -> None:
    board = FakeBoard([Send(MARK), Send(f"deviceID:{sent}\n".encode()), Pause(0.3)])
    port = connect(board)
    with pytest.raises(IefError) as err:
        _run(port)
    assert str(err.value).startswith("the board sent an invalid DeviceID: ")
    assert expected in str(err.value)
    assert port.writes == []  # no acknowledgement for a bad ID


def test_password_never_appears_in_logs_events_or_errors(
    connect: Any, caplog: pytest.LogCaptureFixture
) -> None:
    leak = f"D (900) wifi: connecting to line-7 with {PASSWORD}\r\n".encode()
    script: list[Send | Reply | Pause] = [*_request("wifi_password"), Send(leak), Send(MARK)]
    script += [Send(f"deviceID:{PASSWORD}\n".encode()), Pause(0.3)]
    board = FakeBoard(script)
    lines: list[IefLine] = []
    with pytest.raises(IefError) as err:
        run_ief_session(connect(board), ANSWERS, on_line=lines.append)
    assert board.wait().replies == [PASSWORD.encode() + b"\n"]  # the board did get it
    seen = [line.text for line in lines] + [str(err.value), repr(ANSWERS), caplog.text]
    assert all(PASSWORD not in text for text in seen)
    assert f"D (900) wifi: connecting to line-7 with {MASK}" in seen
    assert "wifi_password -> ********" in seen


def test_password_masked_in_a_timeout_too(connect: Any) -> None:
    board = FakeBoard([Send(MARK), Send(f"I (5) x: {PASSWORD}\n".encode()), Pause(0.6)])
    with pytest.raises(IefTimeoutError) as err:
        _run(connect(board), request_timeout=0.3)
    assert PASSWORD not in str(err.value)
    assert MASK in str(err.value)


def test_board_vanishing_mid_exchange(connect: Any) -> None:
    board = FakeBoard(_request("ql_endpoint"))  # then the board's end of the line closes
    with pytest.raises(IefConnectionLostError) as err:
        _run(connect(board))
    assert "connection to the board was lost during the IEF exchange" in str(err.value)
    assert "answered: ql_endpoint" in str(err.value)


def test_garbage_then_real_requests_still_complete(connect: Any) -> None:
    board = FakeBoard([Send(MARK), Send(b"\x07garbled ql_root\r\n"), *_full_script()])
    result, lines = _run(connect(board))
    assert result.device_id == DEVICE_ID
    assert any("garbled" in line.text for line in lines if line.source == "board")


# --- after the DeviceID: watching the board join WiFi -------------------------------------------------
def test_without_a_network_timeout_the_session_ends_at_the_device_id(connect: Any) -> None:
    board = FakeBoard([Send(MARK), Send(f"deviceID:{DEVICE_ID}\r\n".encode()), Reply(), Pause(2.0)])
    result, _ = _run(connect(board))
    assert result.network is NetworkState.NOT_WATCHED and result.ip == ""
    assert result.seconds < 1.5  # it did not stay for the board's pause


def test_the_board_joining_wifi_is_seen_and_its_address_kept(connect: Any) -> None:
    joined = [
        Send(b"I (900) wifi:connected with line-7, aid = 1, channel 6, BW20\r\n"),
        Send(b"I (950) esp_netif_handlers: sta ip: 192.168.4.7, mask: 255.255.255.0, gw: 192.168.4.1\r\n"),
        Pause(2.0),
    ]
    board = FakeBoard([*_full_script(), *joined])
    result, lines = _run(connect(board), network_timeout=10)
    assert result.device_id == DEVICE_ID
    assert result.network is NetworkState.JOINED and result.ip == "192.168.4.7"
    assert result.seconds < 1.5  # it left as soon as the address was printed, not at the timeout
    board_lines = [line.text for line in lines if line.source == "board"]
    assert board_lines[-1].startswith("I (950) esp_netif_handlers: sta ip: 192.168.4.7")


def test_a_board_asking_for_wifi_again_after_its_device_id_was_refused_by_the_network(connect: Any) -> None:
    refused = [
        Send(b"I (900) wifi: connecting to 'line-7' (attempt 1)\r\n"),
        Send(b"W (1100) wifi: authentication failed (reason 15: 4WAY_HANDSHAKE_TIMEOUT)\r\n"),
        Send(b"E (1110) IEF: WiFi credentials rejected by the network; asking for new ones\r\n"),
        Send(MARK),
        Send(b"wifi_ssid\r\n"),
        Pause(2.0),
    ]
    board = FakeBoard([*_full_script(), *refused])
    port = connect(board)
    with pytest.raises(IefWifiRejectedError) as raised:
        _run(port, network_timeout=10)
    message = str(raised.value)
    assert "could not join WiFi 'line-7'" in message
    assert "W (1100) wifi: authentication failed (reason 15: 4WAY_HANDSHAKE_TIMEOUT)" in message
    assert DEVICE_ID in message and "re-enrol" in message
    assert PASSWORD not in message
    assert port.writes.count(b"line-7\n") == 1  # the refused SSID is not sent again


def test_a_quiet_board_passes_with_its_wifi_unconfirmed_when_the_time_is_up(connect: Any) -> None:
    board = FakeBoard([*_full_script(), Send(b"I (900) ief: enrolling\r\n"), Pause(3.0)])
    started = time.monotonic()
    result, _ = _run(connect(board), network_timeout=0.5)
    assert result.network is NetworkState.UNCONFIRMED and result.ip == ""
    assert 0.5 <= time.monotonic() - started < 2.5


def test_a_board_whose_kept_wifi_fails_is_given_the_new_credentials(connect: Any) -> None:
    """Re-enrolment at a new site: the board still holds the old network, fails to join, asks."""
    script: list[Send | Reply | Pause] = [Send(MARK), Send(f"deviceID:{DEVICE_ID}\r\n".encode()), Reply()]
    script += [Send(b"W (700) wifi: no AP found with SSID 'old-site' (reason 201: NO_AP_FOUND)\r\n")]
    script += [*_request("wifi_ssid"), *_request("wifi_password")]
    script += [Send(b"I (1500) esp_netif_handlers: sta ip: 10.1.2.3, mask: 255.255.0.0\r\n"), Pause(1.0)]
    board = FakeBoard(script)
    result, _ = _run(connect(board), network_timeout=10)
    assert result.network is NetworkState.JOINED and result.ip == "10.1.2.3"
    assert result.answered == (IefRequest.WIFI_SSID, IefRequest.WIFI_PASSWORD)
    assert board.wait().replies == [b"OK\n", b"line-7\n", PASSWORD.encode() + b"\n"]


def _scripted(pieces: list[bytes], **kw: Any) -> tuple[IefResult | IefError, list[IefLine], ScriptedPort]:
    clock = Clock()
    port = ScriptedPort(pieces, clock)
    lines: list[IefLine] = []
    try:
        result: IefResult | IefError = run_ief_session(port, ANSWERS, on_line=lines.append, clock=clock, **kw)
    except IefError as error:
        result = error
    return result, lines, port


def test_a_huge_line_is_cut_and_the_exchange_goes_on() -> None:
    """Seen: a 100 KB line from the board; line assembly must stay linear, and the log readable."""
    huge = b"x" * 2_000_000  # arrives 64 bytes a read, like a USB-UART
    pieces = [huge[i : i + 64] for i in range(0, len(huge), 64)]
    pieces += [b"\r\n", MARK, f"deviceID:{DEVICE_ID}\r\n".encode()]
    result, lines, _port = _scripted(pieces, overall_timeout=100, request_timeout=100)  # 1 ms a read
    assert isinstance(result, IefResult) and result.device_id == DEVICE_ID
    (cut,) = [line.text for line in lines if line.text.startswith("xxx")]
    assert len(cut) < MAX_LINE_BYTES + 100
    not_shown = 2_000_001 - MAX_LINE_BYTES  # the CR before the LF is a byte of the line too
    assert cut.endswith(f"[... {not_shown} more bytes of this line not shown]")


def test_a_board_repeating_one_request_gets_a_bounded_error() -> None:
    """Seen: a board asking for the same thing for 30 s made a record's error text grow without bound."""
    pieces = [MARK] + [b"wifi_ssid\r\n"] * 5000
    result, _lines, port = _scripted(pieces, overall_timeout=30, request_timeout=30)
    assert isinstance(result, IefTimeoutError)
    assert "(answered: wifi_ssid x5000)" in str(result) and len(str(result)) < 400
    assert len(port.written) == 5000


def test_an_all_zero_device_id_is_refused_and_not_acknowledged() -> None:
    result, _lines, port = _scripted([MARK, b"deviceID:" + b"0" * 64 + b"\r\n"], request_timeout=5)
    assert isinstance(result, IefError) and "cannot be a DeviceID" in str(result)
    assert port.written == []


def test_the_id_is_acknowledged_only_after_the_station_saved_it() -> None:
    order: list[str] = []

    class Port(ScriptedPort):
        def write(self, data: bytes, /) -> int:
            order.append(f"write {data!r}")
            return super().write(data)

    clock = Clock()
    port = Port(
        [MARK, f"I (9) IEF: DeviceID {DEVICE_ID}\r\n".encode(), f"deviceID:{DEVICE_ID}\r\n".encode()], clock
    )
    result = run_ief_session(port, ANSWERS, before_ack=lambda i: order.append(f"journal {i}"), clock=clock)
    assert order == [f"journal {DEVICE_ID}", "write b'OK\\n'"]
    assert result.id_check.value == "confirmed"


def test_an_id_the_station_could_not_save_is_not_acknowledged() -> None:
    def refuse(device_id: str) -> None:
        raise StationRefusedError("database or disk is full")

    result, _lines, port = _scripted([MARK, f"deviceID:{DEVICE_ID}\r\n".encode()], before_ack=refuse)
    assert isinstance(result, IefError)
    assert str(result).startswith(f"DeviceID {DEVICE_ID} was not acknowledged: database or disk is full")
    assert port.written == []
