"""The enrolment service over real TLS on loopback, with real keys, against a real local instance."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.domain.chips import ChipType
from app.domain.kinds import DeviceState, IefKind, KeyType
from app.enrolment.protocol import MAX_LINE, SIGNATURE_CONTEXT
from app.enrolment.runner import EnrolListen, start_enrolment
from app.instance.local.instance import LocalInstance
from app.sim.device_enrolment import EnrolFailure, enrol
from app.sim.images import build_sim_ief
from tests.enrolment.conftest import RawPeer, Site, hello, new_keys
from tests.support.held_lock import another_writer


def _issuing(site: Site) -> x509.Certificate:
    pem = next(c.pem for c in site.instance.certificates() if c.role == "issuing")
    return x509.load_pem_x509_certificate(pem.encode())


def test_a_device_in_a_batch_enrols_and_its_certificate_verifies(site: Site) -> None:
    keys = site.device()
    result = site.enrol(keys)

    device = site.instance.find_device(keys.device_id)
    assert device is not None and device.state is DeviceState.ENROLLED
    cert = x509.load_der_x509_certificate(result.certificate_der)
    cert.verify_directly_issued_by(_issuing(site))
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == keys.device_id
    assert cert.public_key() == keys.device.public_key()  # the device key, not the enrolment key
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert 365 <= lifetime.days <= 366  # the default policy, plus the 5 minutes' backdating
    assert result.first and result.batch == site.batch and not result.update

    stored = site.instance.device_enrolment().certificate_of(keys.device_id)
    assert stored is not None and stored.serial_hex == result.serial and stored.enrolments == 1
    assert stored.firmware == "sim-1"
    assert site.service.counters.enrolled == 1
    assert any(line.startswith("TLS handshake ok") for line in site.lines)
    entries = site.instance.list_activity().items
    assert any(e.action == "device.enrol" and e.target == keys.device_id for e in entries)


def test_enrolling_twice_replaces_the_certificate_as_a_renewal(site: Site) -> None:
    keys = site.device()
    first = site.enrol(keys)
    second = site.enrol(keys)
    assert first.first and not second.first
    assert first.serial != second.serial
    stored = site.instance.device_enrolment().certificate_of(keys.device_id)
    assert stored is not None and stored.serial_hex == second.serial and stored.enrolments == 2
    batch = site.instance.get_batch(site.batch)
    assert batch.counts.renewed == 1 and batch.counts.enrolled == 0 and batch.counts.registered == 0
    assert any("status: renewed in batch" in line for line in site.lines)


def test_a_device_in_no_batch_is_refused(site: Site) -> None:
    keys = site.device(in_batch=False)
    with pytest.raises(EnrolFailure, match="enrolment refused: unknown_device"):
        site.enrol(keys)
    assert site.instance.find_device(keys.device_id) is None
    assert site.service.counters.refused == {"unknown_device": 1}


def test_a_revoked_device_is_refused_and_stays_revoked(site: Site) -> None:
    keys = site.device()
    site.instance.set_device_state([keys.device_id], DeviceState.REVOKED)
    with pytest.raises(EnrolFailure, match="enrolment refused: revoked"):
        site.enrol(keys)
    device = site.instance.find_device(keys.device_id)
    assert device is not None and device.state is DeviceState.REVOKED
    assert site.instance.device_enrolment().certificate_of(keys.device_id) is None


def test_a_device_trusting_another_root_ca_stops_at_the_handshake(site: Site, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    from app.instance.local.instance import LocalInstance

    with LocalInstance.open(tmp_path_factory.mktemp("other") / "other.sqlite3") as other:
        pem = next(c.pem for c in other.certificates() if c.role == "root")
    other_root = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
    keys = site.device()
    with pytest.raises(EnrolFailure, match="server certificate not trusted by ql_rootCA"):
        site.enrol(keys, root_der=other_root)
    device = site.instance.find_device(keys.device_id)
    assert device is not None and device.state is DeviceState.REGISTERED


def test_a_wrong_port_is_connection_refused(site: Site) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    with pytest.raises(EnrolFailure, match=f"connect to 127.0.0.1:{free} failed: connection refused"):
        site.enrol(site.device(), port=free)


def test_a_device_id_that_is_not_the_hash_of_the_key_is_refused(site: Site) -> None:
    keys = site.device()
    other = new_keys()
    message = hello(other)
    message["device_id"] = keys.device_id  # a real, batched ID presented with someone else's key
    peer = site.raw()
    try:
        peer.send_json(message)
        answer = peer.answer()
        assert answer["type"] == "error" and answer["code"] == "device_id_mismatch"
        assert peer.closed_by_service()
    finally:
        peer.close()
    device = site.instance.find_device(keys.device_id)
    assert device is not None and device.state is DeviceState.REGISTERED


def test_a_signature_by_another_key_is_refused(site: Site) -> None:
    keys = site.device()
    peer = site.raw()
    try:
        peer.send_json(hello(keys))
        challenge = peer.answer()
        nonce = base64.b64decode(str(challenge["nonce"]))
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([]))
            .sign(keys.device, hashes.SHA256())
            .public_bytes(serialization.Encoding.DER)
        )
        signed = SIGNATURE_CONTEXT + nonce + bytes.fromhex(keys.device_id) + hashlib.sha256(csr).digest()
        wrong = ec.generate_private_key(ec.SECP256R1()).sign(signed, ec.ECDSA(hashes.SHA256()))
        peer.send_json(
            {
                "type": "enrol",
                "csr": base64.b64encode(csr).decode(),
                "signature": base64.b64encode(wrong).decode(),
            }
        )
        answer = peer.answer()
        assert answer["code"] == "bad_signature"
    finally:
        peer.close()
    assert site.instance.device_enrolment().certificate_of(keys.device_id) is None


HOSTILE = [
    (b"x" * (MAX_LINE + 10) + b"\n", "line_too_long"),
    (b"{not json\n", "bad_json"),
    (b"\xff\xfe\n", "bad_json"),
    (b"[1, 2, 3]\n", "bad_json"),
    (b"[" * 8000 + b"\n", "bad_json"),  # nested deeper than the JSON parser recurses
    (b'{"version": 1}\n', "bad_message"),
    (b'{"type": 7}\n', "bad_message"),
    (b'{"type": "status", "firmware": "x"}\n', "unexpected_message"),
    (b'{"type": "hello", "version": "1", "device_id": "00", "epk": ""}\n', "bad_message"),
    (b'{"type": "hello", "version": 2, "device_id": "00", "epk": ""}\n', "unsupported_version"),
    (b'{"type": "hello", "version": 1, "device_id": "' + b"A" * 64 + b'", "epk": "AAAA"}\n', "bad_message"),
    (b'{"type": "hello", "version": 1, "device_id": "' + b"a" * 64 + b'", "epk": "%%%"}\n', "bad_message"),
    (b'{"type": "hello", "version": 1, "device_id": "' + b"a" * 64 + b'", "epk": "AAAA"}\n', "bad_key"),
    (b'{"type": "hello", "version": 1, "device_id": ["a"], "epk": "AAAA"}\n', "bad_message"),
]


@pytest.mark.parametrize(
    ("line", "code"), HOSTILE, ids=[code + str(i) for i, (_, code) in enumerate(HOSTILE)]
)
def test_hostile_input_gets_its_own_error_and_the_service_keeps_serving(
    site: Site, line: bytes, code: str
) -> None:
    peer = site.raw()
    try:
        peer.send(line)
        answer = peer.answer()
        assert answer["type"] == "error" and answer["code"] == code, answer
        assert isinstance(answer["message"], str) and answer["message"]
        assert peer.closed_by_service()
    finally:
        peer.close()
    keys = site.device()
    assert site.enrol(keys).first  # the next device is served as usual


def test_bad_csr_and_a_silent_device(site: Site) -> None:
    keys = site.device()
    peer = site.raw()
    try:
        peer.send_json(hello(keys))
        peer.answer()
        peer.send_json({"type": "enrol", "csr": base64.b64encode(b"not a csr").decode(), "signature": "AAAA"})
        assert peer.answer()["code"] == "bad_csr"
    finally:
        peer.close()
    silent = site.raw()
    try:
        answer = silent.answer()  # the fixture's service waits 2 s for a line
        assert answer["code"] == "timeout"
    finally:
        silent.close()


def test_a_plain_tcp_client_does_not_stop_the_service(site: Site) -> None:
    import socket

    with socket.create_connection(site.address, timeout=5) as plain:
        plain.sendall(b'{"type": "hello"}\n')
        with contextlib.suppress(ConnectionResetError):  # not TLS: the service hangs up
            assert plain.recv(100) == b""
    assert site.enrol(site.device()).first
    assert site.service.counters.handshake_failures >= 1


def test_the_status_answer_offers_the_batch_firmware_from_the_catalog(site: Site) -> None:
    site.instance.create_signing_key("fw", KeyType.ECDSA_P256)
    image = build_sim_ief(ChipType.ESP32, IefKind.NON_DEBUG, version="2.1.0")
    firmware = site.instance.upload_firmware("app-2.1.0", "2.1.0", ChipType.ESP32, [], image, "fw")
    batch = site.instance.create_batch(f"{site.batch}-fw", firmware="app-2.1.0").name
    keys = new_keys()
    site.instance.add_devices(batch, [keys.device_id])
    result = site.enrol(keys)
    assert result.update and result.firmware == "app-2.1.0" and result.batch == batch
    assert result.offer is not None
    assert (result.offer.version, result.offer.size, result.offer.sha256) == (
        "2.1.0",
        firmware.size,
        firmware.sha256,
    )
    assert result.offer.image is None  # asked for nothing: the device downloads only when it chooses to
    assert any("firmware update available: app-2.1.0 version 2.1.0" in line for line in site.lines)


def test_a_busy_instance_database_is_unavailable_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QL_STATION_BUSY_TIMEOUT_MS", "200")
    db = tmp_path / "busy.sqlite3"
    with LocalInstance.open(db) as instance:
        instance.create_batch("line")
        keys = new_keys()
        instance.add_devices("line", [keys.device_id])
        root = next(c.pem for c in instance.certificates() if c.role == "root")
        root_der = x509.load_pem_x509_certificate(root.encode()).public_bytes(serialization.Encoding.DER)
        with start_enrolment(instance, EnrolListen("127.0.0.1", 0), tmp_path) as service:
            address = ("127.0.0.1", service.port)
            refused = r"enrolment refused: unavailable: .*busy"
            with another_writer(db), pytest.raises(EnrolFailure, match=refused):
                enrol(address, "localhost", root_der, keys, log=lambda _t: None)
            assert enrol(address, "localhost", root_der, keys, log=lambda _t: None).first  # once it is free


def test_a_device_holding_a_valid_certificate_checks_in_without_a_new_one(site: Site) -> None:
    keys = site.device()
    first = site.enrol(keys)
    back = enrol(
        site.address,
        "localhost",
        site.root_der,
        keys,
        log=site.lines.append,
        certificate=first.certificate_der,
    )
    assert back.checked_in and back.serial == first.serial and not back.update
    assert site.service.counters.checked_in == 1 and site.service.counters.enrolled == 1
    device = site.instance.find_device(keys.device_id)
    assert device is not None and device.state is DeviceState.ENROLLED
    held = site.instance.device_enrolment().certificate_of(keys.device_id)
    assert held is not None and held.enrolments == 1 and held.serial_hex == first.serial


def test_checking_in_without_a_valid_certificate_is_refused(site: Site) -> None:
    keys = site.device()
    with pytest.raises(EnrolFailure, match=r"enrolment refused: not_enrolled: .* holds no valid certificate"):
        enrol(site.address, "localhost", site.root_der, keys, log=site.lines.append, certificate=b"x")
    assert site.enrol(keys).first  # enrolling is what it should do


def test_a_check_in_signed_by_another_key_is_refused(site: Site) -> None:
    keys = site.device()
    site.enrol(keys)
    raw = site.raw()
    try:
        raw.send_json(hello(keys))
        assert raw.answer()["type"] == "challenge"
        other = ec.generate_private_key(ec.SECP256R1())
        signature = other.sign(b"QL-CHECKIN-1\x00" + b"\x00" * 32, ec.ECDSA(hashes.SHA256()))
        raw.send_json({"type": "check_in", "signature": base64.b64encode(signature).decode()})
        answer = raw.answer()
        assert answer["code"] == "bad_signature" and "check-in signature" in str(answer["message"])
    finally:
        raw.close()


_OTA = itertools.count()


def _offered_conversation(site: Site) -> tuple[RawPeer, dict[str, object]]:
    """A raw peer that checked in and was offered the batch's firmware: (peer, status answer)."""
    n = next(_OTA)  # the site is shared by the module's tests: names of their own
    site.instance.create_signing_key(f"ota-key-{n}", KeyType.ECDSA_P256)
    image = build_sim_ief(ChipType.ESP32C3, IefKind.NON_DEBUG, version="2.1.0")
    site.instance.upload_firmware(f"app-{n}", "2.1.0", ChipType.ESP32C3, [], image, f"ota-key-{n}")
    batch = site.instance.create_batch(f"{site.batch}-ota-{n}", firmware=f"app-{n}").name
    keys = new_keys()
    site.instance.add_devices(batch, [keys.device_id])
    site.enrol(keys)
    raw = site.raw()
    raw.send_json(hello(keys))
    nonce = base64.b64decode(str(raw.answer()["nonce"]))
    signature = keys.enrolment.sign(
        b"QL-CHECKIN-1\x00" + nonce + bytes.fromhex(keys.device_id), ec.ECDSA(hashes.SHA256())
    )
    raw.send_json({"type": "check_in", "signature": base64.b64encode(signature).decode()})
    assert raw.answer()["type"] == "checked_in"
    raw.send_json({"type": "status", "firmware": "sim-1"})
    status = raw.answer()
    assert status["update"] is True and status["version"] == "2.1.0"
    return raw, status


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"sha256": "0" * 64}, "no_update", "this connection offered firmware 'app-"),
        ({"firmware": "other"}, "no_update", "ask for status again"),
        ({"chip": "esp32s3"}, "wrong_chip", "is built for esp32c3, this device is esp32s3"),
        ({"offset": 10_000_000}, "bad_message", "past the end of the"),
        ({"length": 0}, "bad_message", "field 'length' must be a whole number 1 to 6144"),
        ({"length": 6145}, "bad_message", "field 'length' must be a whole number 1 to 6144"),
        ({"offset": -1}, "bad_message", "field 'offset' must be a whole number"),
        ({"offset": True}, "bad_message", "field 'offset' must be a whole number"),
    ],
)
def test_a_bad_firmware_get_is_refused_with_its_own_code(
    site: Site, change: dict[str, object], code: str, message: str
) -> None:
    raw, status = _offered_conversation(site)
    try:
        request = {"type": "firmware_get", "firmware": status["firmware"], "sha256": status["sha256"]}
        raw.send_json({**request, "chip": "esp32c3", "offset": 0, "length": 4096, **change})
        answer = raw.answer()
        assert (answer["type"], answer["code"]) == ("error", code), answer
        assert message in str(answer["message"])
    finally:
        raw.close()


def test_pieces_come_back_in_order_and_make_the_signed_image(site: Site) -> None:
    raw, status = _offered_conversation(site)
    try:
        size, pieces = int(str(status["size"])), []
        request = {"type": "firmware_get", "firmware": status["firmware"], "sha256": status["sha256"]}
        while sum(len(p) for p in pieces) < size:
            raw.send_json(
                {**request, "chip": "esp32c3", "offset": sum(len(p) for p in pieces), "length": 6144}
            )
            chunk = raw.answer()
            assert chunk["type"] == "firmware_chunk" and chunk["size"] == size
            pieces.append(base64.b64decode(str(chunk["data"])))
        image = b"".join(pieces)
        assert hashlib.sha256(image).hexdigest() == status["sha256"]
        desk = site.instance.device_enrolment()
        assert image == desk.firmware_image(str(status["firmware"]), str(status["sha256"]))
    finally:
        raw.close()
    deadline = time.monotonic() + 5  # counted by the service's thread once the last piece is sent
    while site.service.counters.firmware_downloads < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert site.service.counters.firmware_downloads == 1
