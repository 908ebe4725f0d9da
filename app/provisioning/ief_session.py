"""The host side of the IEF UART protocol: answer the board's requests, receive its DeviceID.

After boot the Initial Enrolment Firmware prints a marker line `IEF DATA` (a NUL follows it in the
known implementation) and then one request per line: `ql_rootCA`, `ql_endpoint`, `ql_port`,
`wifi_ssid`, `wifi_password`, or `deviceID:<64 hex>`. We answer each with exactly one write of one
line, because the board reads a reply with a single read of at most 1024 bytes: a longer reply is
refused here, never sent in pieces. The UART also carries ROM and ESP-IDF log output, interleaved and
cut at arbitrary read boundaries; those lines go to the slot's log. The WiFi password is never put
into a log line, event or error: every text leaving this module is scrubbed of it.

After the DeviceID the session can stay on the line for a while (`network_timeout`) to see the board
join WiFi, since a wrong password only shows there: ESP-IDF logs `sta ip: <address>` when the station
gets its address, and the IEF asks for `wifi_ssid`/`wifi_password` again when the network refused the
ones it has. An address is a pass. A request for credentials this session already sent is a failure
that says so; one for credentials the board had kept (a board re-enrolled at a new site) is answered.
A board that prints neither within the time (a quiet release build) passes with its WiFi unconfirmed.

A DeviceID is acknowledged only after two things: its reading agrees with the copy in the board's own
log (app/provisioning/device_id_readings.py), and `before_ack` returned, which is where the station
writes it to its journal. So a board is never told "OK" for an ID the station could still lose.
Time comes from `clock`, so tests can step it instead of sleeping.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from app.domain.device_id import DeviceID, parse_device_id
from app.domain.errors import StationError, ValidationError
from app.domain.records import certificate_base64
from app.provisioning.device_id_readings import DeviceIdReadings, ReadingCheck
from app.provisioning.job import MASK, Redactor

MARKER = "IEF DATA"
DEVICE_ID_PREFIX = "deviceID:"
DEVICE_ID_ACK = "OK"
MAX_REPLY_BYTES = 1023  # the reply line including its "\n"; the board's single read takes 1024
_READ_SLICE = 0.05
MAX_LINE_BYTES = 4096  # longer board output is cut (and said so): a line is for a person to read
_LINE_ENDS = re.compile(rb"[\n\x00]")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_IDF_LOG = re.compile(r"^[EWIDV] \(\d+\) ")
_GOT_IP = re.compile(r"\b(?:sta ip|got ip): *(\d{1,3}(?:\.\d{1,3}){3})")
_WIFI_PROBLEM = re.compile(r"^[EW] \(\d+\) wifi\b")


class SerialLike(Protocol):
    """What we need of a pyserial port (a real one, `rfc2217://`, `socket://` or `loop://`)."""

    timeout: float | None

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...


class IefRequest(Enum):
    ROOT_CA = "ql_rootCA"
    ENDPOINT = "ql_endpoint"
    PORT = "ql_port"
    WIFI_SSID = "wifi_ssid"
    WIFI_PASSWORD = "wifi_password"  # noqa: S105  (a request name, not a password)


_WIFI_REQUESTS = frozenset({IefRequest.WIFI_SSID, IefRequest.WIFI_PASSWORD})


class IefError(StationError):
    """The IEF exchange failed: the board said something we cannot accept, or a reply cannot be sent."""


class IefTimeoutError(IefError):
    """The board did not say what we were waiting for in time."""


class IefConnectionLostError(IefError):
    """The UART went away mid-exchange (board unplugged, virtual board stopped)."""


class IefDeviceIdError(IefError):
    """The DeviceID cannot be accepted: impossible, damaged on the UART, or not saved by the station."""


class IefWifiRejectedError(IefError):
    """After its DeviceID the board asked for WiFi credentials again: the network refused the ones sent."""


class NetworkState(Enum):
    NOT_WATCHED = "not watched"  # the session ended at the DeviceID
    JOINED = "joined"
    UNCONFIRMED = "unconfirmed"  # the board said nothing either way within the time


@dataclass(frozen=True)
class IefAnswers:
    """What the board may ask for. The password is kept out of repr and out of every message."""

    root_ca_pem: str
    endpoint: str
    port: int
    ssid: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class IefLine:
    """A line for the slot's log: `board` output as received (scrubbed), or a `protocol` note of ours."""

    source: str  # "board" or "protocol"
    text: str


@dataclass(frozen=True)
class IefResult:
    device_id: DeviceID
    answered: tuple[IefRequest, ...]
    seconds: float
    network: NetworkState = NetworkState.NOT_WATCHED
    ip: str = ""
    id_check: ReadingCheck = ReadingCheck.SINGLE


Clock = Callable[[], float]
AckGate = Callable[[DeviceID], None]
"""Called with a valid DeviceID before the board is told "OK"; raises StationError to refuse it."""


LineCallback = Callable[[IefLine], None]


class _Waiting(Enum):
    MARKER = "the 'IEF DATA' marker that starts the exchange (did the board boot the flashed IEF?)"
    REQUEST = "the request line that follows 'IEF DATA'"
    NEXT = "the next request or the board's DeviceID"
    NETWORK = "the board to join WiFi"


def run_ief_session(
    port: SerialLike,
    answers: IefAnswers,
    *,
    overall_timeout: float = 90.0,
    request_timeout: float = 30.0,
    network_timeout: float = 0.0,
    on_line: LineCallback | None = None,
    before_ack: AckGate | None = None,
    clock: Clock = time.monotonic,
) -> IefResult:
    """Serve the board on `port` until it sends its DeviceID, then watch it join WiFi for up to
    `network_timeout` seconds (0: not at all). Raises IefError and its subclasses."""
    timeouts = (overall_timeout, request_timeout, network_timeout)
    return _Session(port, answers, timeouts, on_line, before_ack, clock).run()


class _Session:
    def __init__(
        self,
        port: SerialLike,
        answers: IefAnswers,
        timeouts: tuple[float, float, float],
        on_line: LineCallback | None,
        before_ack: AckGate | None,
        clock: Clock,
    ) -> None:
        self._port = port
        self._answers = answers
        self._overall, self._per_request, self._network_timeout = timeouts
        self._on_line = on_line
        self.before_ack = before_ack
        self.clock = clock
        self._pending: list[bytes] = []  # the current line's pieces: joined once, when it ends
        self._pending_size = 0
        self._readings = DeviceIdReadings()
        self._id_check = ReadingCheck.SINGLE
        self._answered: list[IefRequest] = []
        self._waiting = _Waiting.MARKER
        self._last_board_line = ""
        self._unknown_request = ""
        self._step_deadline = 0.0
        self._device_id: DeviceID | None = None
        self._network_deadline = 0.0
        self._ip = ""
        self._last_wifi_problem = ""

    def run(self) -> IefResult:
        start = self.clock()
        overall_deadline = start + self._overall
        self._step_deadline = start + self._per_request
        saved_timeout = self._port.timeout
        self._port.timeout = _READ_SLICE
        try:
            while True:
                now = self.clock()
                if self._waiting is _Waiting.NETWORK:
                    if now >= self._network_deadline:
                        return self._result(start, NetworkState.UNCONFIRMED)
                elif now >= overall_deadline:
                    raise self._timeout(self._overall, overall=True)
                elif now >= self._step_deadline:
                    raise self._timeout(self._per_request, overall=False)
                try:
                    lines = self._read_lines()
                except OSError as error:  # pyserial's SerialException is an OSError
                    raise self._lost(error) from None
                for line in lines:
                    self._handle(line)
                    if self._device_id is not None and self._waiting is not _Waiting.NETWORK:
                        return self._result(start, NetworkState.NOT_WATCHED)
                    if self._ip:
                        return self._result(start, NetworkState.JOINED)
        finally:
            self._port.timeout = saved_timeout

    def _result(self, start: float, network: NetworkState) -> IefResult:
        assert self._device_id is not None
        seconds = self.clock() - start
        answered = tuple(self._answered)
        return IefResult(self._device_id, answered, seconds, network, self._ip, self._id_check)

    def _progressed(self) -> None:
        """The board moved the exchange on: the per-request clock starts again."""
        self._step_deadline = self.clock() + self._per_request

    def _read_lines(self) -> list[str]:
        """The lines this read completes. Only the new bytes are searched, so a board that never ends
        its line costs linear time; past MAX_LINE_BYTES the rest of such a line is dropped."""
        waiting = int(getattr(self._port, "in_waiting", 0) or 0)
        chunk = self._port.read(waiting if waiting > 0 else 1)
        if not chunk:
            return []
        parts = _LINE_ENDS.split(chunk)
        lines: list[str] = []
        for part in parts[:-1]:
            self._add_piece(part)
            lines.append(self._take_line())
        self._add_piece(parts[-1])
        return lines

    def _add_piece(self, piece: bytes) -> None:
        room = MAX_LINE_BYTES - self._pending_size
        if room > 0 and piece:
            self._pending.append(piece[:room])
        self._pending_size += len(piece)

    def _take_line(self) -> str:
        text = b"".join(self._pending).decode("utf-8", errors="replace").replace("\r", "")
        if self._pending_size > MAX_LINE_BYTES:
            text += f" [... {self._pending_size - MAX_LINE_BYTES} more bytes of this line not shown]"
        self._pending, self._pending_size = [], 0
        return text

    def _handle(self, raw: str) -> None:
        line = _ANSI.sub("", raw).strip()
        if not line:
            return
        if self._device_id is not None:
            self._watch_network(line)
            return
        if line == MARKER:
            self._waiting = _Waiting.REQUEST
            self._progressed()
            return
        if self._waiting is _Waiting.MARKER or _IDF_LOG.match(line):
            self._board(line)
            return
        if line.startswith(DEVICE_ID_PREFIX):
            self._device_id = self._accept_device_id(line[len(DEVICE_ID_PREFIX) :])
            if self._network_timeout > 0:
                self._waiting = _Waiting.NETWORK
                self._network_deadline = self.clock() + self._network_timeout
            return
        request = _request(line)
        if request is not None:
            self._answer(request)
            return
        if self._waiting is _Waiting.REQUEST:
            # Noise is ignored (it may be a garbled log line); the timeout will name it if nothing follows.
            self._unknown_request = self._scrub(line)[:80]
        self._board(line)

    def _watch_network(self, line: str) -> None:
        """After the DeviceID: an address means joined; a second request for WiFi credentials, refused."""
        if line == MARKER:
            return
        request = _request(line)
        if request is None:
            self._board(line)
            found = _GOT_IP.search(line)
            if found:
                self._ip = found.group(1)
            elif _WIFI_PROBLEM.match(line):
                self._last_wifi_problem = self._scrub(line)[:120]
            return
        if request in _WIFI_REQUESTS and request in self._answered:
            ssid = self._answers.ssid
            why = f" (its last WiFi message: {self._last_wifi_problem!r})" if self._last_wifi_problem else ""
            raise IefWifiRejectedError(
                f"the board could not join WiFi {ssid!r} with the credentials it was given{why} and is "
                f"asking for new ones; check the SSID and password, then re-enrol the board "
                f"(DeviceID {self._device_id})"
            )
        # Credentials the board had kept failed (re-enrolled at a new site), or it re-reads a setting.
        self._answer(request)
        self._waiting = _Waiting.NETWORK
        self._network_deadline = self.clock() + self._network_timeout

    def _answer(self, request: IefRequest) -> None:
        reply = self._reply_for(request)
        if "\n" in reply or "\r" in reply:
            raise IefError(f"the answer to {request.value} contains a line break; the IEF takes one line")
        data = (reply + "\n").encode("utf-8")
        if len(data) > MAX_REPLY_BYTES:
            raise IefError(
                f"the answer to {request.value} would be {len(data)} bytes, but the IEF reads at most "
                f"{MAX_REPLY_BYTES} bytes per reply; nothing was sent. {_too_long_hint(request)}"
            )
        self._send(data)
        shown = MASK if request is IefRequest.WIFI_PASSWORD else _abbreviated(reply)
        self._protocol(f"{request.value} -> {shown}")
        self._answered.append(request)
        self._waiting = _Waiting.NEXT
        self._progressed()

    def _reply_for(self, request: IefRequest) -> str:
        answers = self._answers
        if request is IefRequest.ROOT_CA:
            return certificate_base64(answers.root_ca_pem)
        if request is IefRequest.ENDPOINT:
            return answers.endpoint
        if request is IefRequest.PORT:
            return str(answers.port)
        if request is IefRequest.WIFI_SSID:
            return answers.ssid
        return answers.password

    def _accept_device_id(self, value: str) -> DeviceID:
        try:
            device_id = parse_device_id(value)
        except ValidationError as error:
            raise IefDeviceIdError(f"the board sent an invalid DeviceID: {self._scrub(str(error))}") from None
        verdict = self._readings.verdict(device_id)
        if verdict.check is ReadingCheck.DAMAGED:
            raise IefDeviceIdError(verdict.explain(device_id))
        self._id_check = verdict.check
        if verdict.check is ReadingCheck.SINGLE:
            self._protocol(verdict.explain(device_id))
        if self.before_ack is not None:
            try:
                self.before_ack(device_id)
            except StationError as error:
                raise IefDeviceIdError(
                    f"DeviceID {device_id} was not acknowledged: {error}. The board still holds it; "
                    "provision it again once this is fixed"
                ) from None
        self._send(f"{DEVICE_ID_ACK}\n".encode("ascii"))
        self._protocol(f"deviceID {device_id} -> {DEVICE_ID_ACK}")
        return device_id

    def _send(self, data: bytes) -> None:
        """One write call: the board takes each reply with a single read."""
        try:
            self._port.write(data)
            flush = getattr(self._port, "flush", None)
            if callable(flush):
                flush()
        except OSError as error:
            raise self._lost(error) from None

    def _lost(self, error: OSError) -> IefConnectionLostError:
        answered = _summary(self._answered)
        return IefConnectionLostError(
            f"the connection to the board was lost during the IEF exchange ({self._scrub(str(error))}; "
            f"answered: {answered}); check the board is still plugged in, then re-enrol it"
        )

    def _timeout(self, seconds: float, overall: bool) -> IefTimeoutError:
        answered = _summary(self._answered)
        last = f"; the board's last line was {self._last_board_line[:80]!r}" if self._last_board_line else ""
        if overall:
            text = f"the IEF exchange did not finish within {seconds:g} s (answered: {answered})"
        else:
            text = f"no answer from the board within {seconds:g} s (answered: {answered})"
        if self._unknown_request:
            last = (
                f"; after 'IEF DATA' the board sent {self._unknown_request!r}, which is not a request this "
                f"station knows (expected one of {', '.join(r.value for r in IefRequest)} or "
                "deviceID:<64 hex>). The IEF on the board may not match this station; reflash it or check "
                "the task's IEF image"
            )
        return IefTimeoutError(f"{text}; waiting for {self._waiting.value}{last}")

    def _board(self, line: str) -> None:
        text = self._scrub(line)
        self._last_board_line = text
        self._readings.note(text)
        if self._on_line is not None:
            self._on_line(IefLine("board", text))

    def _protocol(self, text: str) -> None:
        if self._on_line is not None:
            self._on_line(IefLine("protocol", self._scrub(text)))

    def _scrub(self, text: str) -> str:
        return Redactor(self._answers.password)(text)


def _summary(answered: list[IefRequest]) -> str:
    """What was answered, each request once with a count: bounded however often a board repeats itself."""
    counts: dict[IefRequest, int] = {}
    for request in answered:
        counts[request] = counts.get(request, 0) + 1
    shown = (f"{r.value} x{n}" if n > 1 else r.value for r, n in counts.items())
    return ", ".join(shown) or "nothing yet"


def _request(line: str) -> IefRequest | None:
    for request in IefRequest:
        if line == request.value:
            return request
    return None


def _abbreviated(reply: str) -> str:
    return reply if len(reply) <= 48 else f"{reply[:24]}... ({len(reply)} characters)"


def _too_long_hint(request: IefRequest) -> str:
    if request is IefRequest.ROOT_CA:
        return "The instance's root CA certificate is too large for the IEF; use a smaller (e.g. EC) root CA"
    return f"Shorten the {request.value.replace('_', ' ')}"
