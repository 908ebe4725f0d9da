"""The Initial Enrolment Firmware's behaviour on a virtual board (after a good boot).

UART protocol (ARCHITECTURE.md, "IEF UART protocol"), 115200 8N1:
- for each of ql_rootCA, ql_endpoint, ql_port, wifi_ssid, wifi_password that is not yet in flash, the board
  sends the marker line `IEF DATA`, a NUL, then the request line, and reads the host's reply with one
  buffered read of at most 1024 bytes (like `uart_read_bytes`: it returns once 1024 bytes arrived or the
  line went quiet). A reply that is missing, malformed or longer than the read is refused with an error
  line and the request is sent again (also every `request_repeat` seconds while nobody answers);
- it generates an EC P-256 enrolment key once and keeps it in flash, then sends `deviceID:<64 hex>` the
  same way and waits for a one-line acknowledgement. DeviceID = SHA-256 of the public key encoded as DER
  SubjectPublicKeyInfo (what `openssl pkey -pubout -outform DER` prints);
- it joins the simulated access point: only the simulator's SSID and password succeed. After
  `join_attempts` failures it forgets the WiFi credentials and asks for them again. Then it prints a
  status line every `status_interval` seconds, enrols (docs/enrolment-protocol.md), and checks in every
  `update_check_interval` seconds to hear of a firmware update for its batch.
The WiFi password is a secret: it is stored in the board's flash but never printed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.domain.chips import PARTITION_TABLE_OFFSET
from app.domain.kinds import IefKind
from app.sim import partition_table as pt
from app.sim.boot import BootedApp
from app.sim.console import Console
from app.sim.device_enrolment import enrol_board
from app.sim.faults import Stage
from app.sim.images import SIM_IDF_VERSION
from app.sim.nvs_store import NvsStore
from app.sim.run_context import RunContext

MARKER = b"IEF DATA\r\n\x00"
REQUESTS = ("ql_rootCA", "ql_endpoint", "ql_port", "wifi_ssid", "wifi_password")
READ_LIMIT = 1024
APP_BAUD = 115200
_KEY = "enrol_key"
FACTORY = "factory"  # the partition the IEF runs from; anything else is a firmware update
_HOSTNAME = re.compile(r"[A-Za-z0-9.-]{1,253}")


@dataclass(frozen=True)
class IefSettings:
    request_repeat: float = 2.0  # seconds before an unanswered request is sent again
    reply_gap: float = 0.02  # a quiet line this long ends a buffered read
    status_interval: float = 5.0
    join_attempts: int = 3
    join_delay: float = 0.2
    update_check_interval: float = 30.0  # an enrolled board checks in this often to hear of a new firmware


class InvalidReply(Exception):
    pass


def run_ief(ctx: RunContext, app: BootedApp, settings: IefSettings) -> None:
    """Run the IEF until the next reset (never returns normally).

    An app booted from an OTA slot is a firmware update, not the IEF: it no longer speaks the UART
    protocol to the station, it joins WiFi with what is in flash and checks in with the instance."""
    ctx.uart.board_baud = APP_BAUD
    ctx.uart.discard_input()
    con = Console(ctx, app=True)
    kind = app.kind
    debug = kind is IefKind.DEBUG
    ctx.stage(Stage.IEF_START)
    _startup_lines(con, kind, debug, app)
    parts = pt.parse_partition_table(ctx.state.flash.read(PARTITION_TABLE_OFFSET, pt.TABLE_AREA_SIZE))
    nvs_part = pt.find_partition(parts, pt.TYPE_DATA, pt.SUBTYPE_NVS)
    if nvs_part is None:
        con.error("nvs", "no nvs partition in the partition table; cannot keep settings")
        ctx.halt()
    assert nvs_part is not None
    session = _Session(ctx, con, NvsStore(ctx.state.flash, nvs_part), settings, debug, app.version)
    if app.partition == FACTORY:
        session.run()
    else:
        session.run_update()


def _startup_lines(con: Console, kind: IefKind, debug: bool, app: BootedApp) -> None:
    con.info("cpu_start", "Pro cpu start user code")
    con.info("app_init", "Application information:")
    con.info("app_init", f"Project name:     sim-ief-{kind.value}")
    con.info("app_init", f"App version:      {app.version}")
    con.info("app_init", f"ESP-IDF:          {SIM_IDF_VERSION}")
    con.info("main_task", "Calling app_main()")
    con.info("IEF", "QuarkLink Initial Enrolment Firmware (simulation)")
    if debug:
        con.debug("IEF", "debug build: verbose logging on")


class _Session:
    def __init__(
        self, ctx: RunContext, con: Console, store: NvsStore, settings: IefSettings, debug: bool, version: str
    ):
        self.version = version
        self.ctx = ctx
        self.con = con
        self.store = store
        self.settings = settings
        self.debug = debug
        self._requested = False

    def run(self) -> None:
        device_id = self._device_id()
        acknowledged = False
        while True:
            for name in REQUESTS:
                if self.store.get(name) is None:
                    self.store.set(name, self._ask(name))
            if not acknowledged:
                self._send_device_id(device_id)
                acknowledged = True
            if self._join_wifi():
                break
            self.con.error("IEF", "WiFi credentials rejected by the network; asking for new ones")
            self.store.delete("wifi_ssid", "wifi_password")
        self._status_loop(device_id)

    def run_update(self) -> None:
        """A firmware update running: WiFi from flash, then enrolment and status as before."""
        device_id = self._device_id()
        self.con.info("IEF", f"running firmware version {self.version} from an OTA partition")
        if not self._join_wifi():
            self.con.error("IEF", "WiFi credentials in flash rejected by the network; no connection")
            self.ctx.halt()
        self._status_loop(device_id)

    # ------------------------------------------------------------------ protocol
    def _request(self, line: str) -> None:
        if not self._requested:
            self._requested = True
            self.ctx.stage(Stage.IEF_REQUEST)
        self.con.raw(MARKER + line.encode() + b"\r\n")  # one write: nothing can come in between

    def _read_reply(self) -> bytes | None:
        """One buffered read: up to 1024 bytes, ending when the line goes quiet."""
        data = self.ctx.read(READ_LIMIT, self.settings.request_repeat)
        if not data:
            return None
        while len(data) < READ_LIMIT:
            more = self.ctx.read(READ_LIMIT - len(data), self.settings.reply_gap)
            if not more:
                break
            data += more
        return data

    def _ask(self, name: str) -> str:
        while True:
            self._request(name)
            raw = self._read_reply()
            if raw is None:
                continue
            line = raw.split(b"\n", 1)[0].replace(b"\r", b"").replace(b"\x00", b"")
            try:
                value = _validate(name, line)
            except InvalidReply as exc:
                self.con.error("IEF", f"{name}: {exc}; asking again")
                continue
            if self.debug:
                shown = f"{len(value)} characters" if name == "wifi_password" else _shorten(value)
                self.con.debug("IEF", f"received {name}: {shown}")
            else:
                self.con.info("IEF", f"received {name}")
            return value

    def _device_id(self) -> str:
        stored = self.store.get(_KEY)
        if stored is None:
            self.con.info("IEF", "generating enrolment key pair (EC P-256)")
            key = ec.generate_private_key(ec.SECP256R1())
            der = key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            self.store.set(_KEY, der.hex())
        else:
            loaded = serialization.load_der_private_key(bytes.fromhex(stored), password=None)
            assert isinstance(loaded, ec.EllipticCurvePrivateKey)
            key = loaded
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(public).hexdigest()

    def _send_device_id(self, device_id: str) -> None:
        self.ctx.stage(Stage.DEVICE_ID)
        if self.ctx.faults.corrupt_device_id:  # damaged before both copies go out: they agree, and are wrong
            device_id = device_id[:-1] + ("0" if device_id[-1] != "0" else "1")
        self.con.info("IEF", f"DeviceID {device_id}")  # the copy the station checks the request against
        while True:
            self._request(f"deviceID:{device_id}")
            raw = self._read_reply()
            if raw is not None and raw.strip(b"\r\n\x00 "):
                self.con.info("IEF", "deviceID acknowledged by the station")
                return

    # ------------------------------------------------------------------ WiFi
    def _join_wifi(self) -> bool:
        self.ctx.stage(Stage.WIFI)
        ssid = self.store.get("wifi_ssid") or ""
        password = self.store.get("wifi_password") or ""
        ap = self.ctx.access_point
        for attempt in range(1, self.settings.join_attempts + 1):
            self.con.info("wifi", f"connecting to '{ssid}' (attempt {attempt})")
            self.ctx.sleep(self.settings.join_delay)
            if ssid != ap.ssid:
                self.con.warn("wifi", f"no AP found with SSID '{ssid}' (reason 201: NO_AP_FOUND)")
            elif password != ap.password:
                self.con.warn("wifi", "authentication failed (reason 15: 4WAY_HANDSHAKE_TIMEOUT)")
            else:
                octet = 2 + self.ctx.state.identity.mac[-1] % 250
                self.con.info("wifi", f"connected with '{ssid}', aid = 1, channel 6")
                self.con.info("esp_netif_handlers", f"sta ip: 192.168.4.{octet}, mask: 255.255.255.0")
                return True
        return False

    def _status_loop(self, device_id: str) -> None:
        endpoint = f"{self.store.get('ql_endpoint')}:{self.store.get('ql_port')}"
        enrolled = False
        next_check = 0.0
        while True:
            now = self.ctx.millis() / 1000
            if not enrolled or now >= next_check:
                enrolled = enrol_board(self.ctx, self.con, self.store, self.version)
                next_check = now + self.settings.update_check_interval
            self.con.info("IEF", f"status: wifi=connected endpoint={endpoint} deviceID={device_id[:16]}...")
            self.ctx.sleep(self.settings.status_interval)


def _shorten(value: str) -> str:
    return value if len(value) <= 48 else f"{value[:45]}..."


def _validate(name: str, line: bytes) -> str:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidReply("reply is not UTF-8 text") from None
    if name == "ql_rootCA":
        _check_root_ca(text)
    elif name == "ql_endpoint":
        if not _HOSTNAME.fullmatch(text):
            raise InvalidReply("not a hostname")
    elif name == "ql_port":
        if not text.isdigit() or not 1 <= int(text) <= 65535:
            raise InvalidReply("not a port number 1-65535")
    elif name == "wifi_ssid":
        if not 1 <= len(text.encode()) <= 32:
            raise InvalidReply("an SSID is 1 to 32 bytes")
    elif name == "wifi_password" and text and not 8 <= len(text) <= 63:
        raise InvalidReply("a WPA2 password is 8 to 63 characters")
    return text


def _check_root_ca(text: str) -> None:
    try:
        der_or_pem = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidReply("root CA is not valid base64") from None
    try:
        if der_or_pem.lstrip().startswith(b"-----BEGIN"):
            x509.load_pem_x509_certificate(der_or_pem)
        else:
            x509.load_der_x509_certificate(der_or_pem)
    except ValueError:
        raise InvalidReply("root CA is not a certificate") from None
