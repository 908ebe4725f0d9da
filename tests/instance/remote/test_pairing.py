"""Pairing over real TLS on loopback: what is trusted, what is refused and why, what is kept."""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.domain.errors import InstanceUnavailableError, ValidationError
from app.instance.local.server_certificate import issue, issuing_material
from app.instance.remote import pairing
from app.instance.remote.connection import Connection, UntrustedInstanceError
from app.instance.remote.pairing import RootCaOffer
from app.server.http_api import create_app
from app.server.https_server import HttpsServer, Listen, bind, tls_context
from app.server.served_instance import ServedInstance
from tests.server.conftest import Serving

OddServer = Callable[..., tuple[str, ServedInstance]]


def _root(served: ServedInstance) -> tuple[str, str]:
    root = next(c for c in served.station.certificates() if c.role == "root")
    return root.pem, root.fingerprint_sha256


@pytest.fixture
def odd_server(tmp_path: Path) -> Iterator[OddServer]:
    """A served instance whose certificate names only `names`, issued at `issued_at` (to make it expired)."""
    stops: list[Callable[[], None]] = []

    def start(names: list[str], issued_at: datetime | None = None) -> tuple[str, ServedInstance]:
        folder = tmp_path / f"odd-{len(stops)}"
        served = ServedInstance(folder / "instance.sqlite3")
        station = served.station
        with station._db.read() as conn:  # the server's own start issues for now; a test needs the past
            material = issuing_material(conn)
        certificate = issue(material, station._protector.get(), names, now=issued_at)
        server = HttpsServer(
            create_app(served), bind(Listen("127.0.0.1", 0)), tls_context(certificate, folder)
        )
        server.start()

        def stop() -> None:
            server.stop()
            served.close()

        stops.append(stop)
        return f"https://127.0.0.1:{server.port}", served

    yield start
    for stop in reversed(stops):
        stop()


def test_the_right_fingerprint_pairs_and_the_pairing_is_kept_privately(
    serving: Serving, tmp_path: Path
) -> None:
    pem, fingerprint = _root(serving.served)
    paired = pairing.pair(tmp_path, serving.url + "/", fingerprint=fingerprint.replace(":", "").lower())
    assert (paired.url, paired.fingerprint) == (serving.url, fingerprint)
    assert paired.ca_file.read_text() == pem
    assert pairing.load(tmp_path) == paired
    for path in (paired.ca_file, paired.ca_file.parent / "instance.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(paired.ca_file.parent.glob("*.candidate"))
    assert pairing.forget(tmp_path) == paired and pairing.load(tmp_path) is None


def test_a_person_confirms_the_fingerprint_they_are_shown(serving: Serving, tmp_path: Path) -> None:
    shown: list[RootCaOffer] = []

    def say_no(offer: RootCaOffer) -> bool:
        shown.append(offer)
        return False

    with pytest.raises(ValidationError, match="not confirmed; nothing was paired"):
        pairing.pair(tmp_path, serving.url, confirm=say_no)
    assert shown[0].fingerprint == _root(serving.served)[1] and pairing.load(tmp_path) is None
    assert pairing.pair(tmp_path, serving.url, confirm=lambda _offer: True).url == serving.url


def test_without_a_fingerprint_a_ca_file_or_a_person_nothing_is_trusted(
    serving: Serving, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match=r"give --fingerprint .* or --ca-file"):
        pairing.pair(tmp_path, serving.url)
    assert pairing.load(tmp_path) is None


def test_a_fingerprint_mismatch_is_refused(serving: Serving, tmp_path: Path) -> None:
    fingerprint = _root(serving.served)[1]
    wrong = ("00" if not fingerprint.startswith("00") else "11") + fingerprint[2:]
    with pytest.raises(UntrustedInstanceError, match=f"not the expected {wrong}: this is another instance"):
        pairing.pair(tmp_path, serving.url, fingerprint=wrong)
    assert pairing.load(tmp_path) is None


def test_another_instances_ca_file_refuses_the_server(serve: Callable[..., Serving], tmp_path: Path) -> None:
    first, second = serve(), serve()
    other_pem = _root(second.served)[0]
    with pytest.raises(UntrustedInstanceError, match="is not issued by this root CA: it is another instance"):
        pairing.pair(tmp_path, first.url, ca_pem=other_pem)
    assert pairing.load(tmp_path) is None
    assert pairing.pair(tmp_path, first.url, ca_pem=_root(first.served)[0]).url == first.url


def test_a_certificate_not_valid_for_the_address_is_refused(odd_server: OddServer, tmp_path: Path) -> None:
    url, served = odd_server(["localhost"])  # reached as 127.0.0.1, which the certificate does not name
    with pytest.raises(
        UntrustedInstanceError, match=r"not valid for the address 127\.0\.0\.1.*--hostname 127"
    ):
        pairing.pair(tmp_path, url, fingerprint=_root(served)[1])
    assert pairing.load(tmp_path) is None


def test_an_expired_server_certificate_is_refused(odd_server: OddServer, tmp_path: Path) -> None:
    url, served = odd_server(["127.0.0.1"], issued_at=datetime.now(UTC) - timedelta(days=400))
    with pytest.raises(UntrustedInstanceError, match=r"has expired .* restart `ql-station serve`"):
        pairing.pair(tmp_path, url, fingerprint=_root(served)[1])
    assert pairing.load(tmp_path) is None


def test_the_paired_ca_alone_is_trusted_whatever_the_environment(
    serve: Callable[..., Serving], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = serve(), serve()
    paired = pairing.pair(tmp_path / "station", first.url, fingerprint=_root(first.served)[1])
    # A client paired with the first instance meets the second one's server at the first one's address
    # (say, a DNS change): it must refuse, even when the environment names the second one's CA as trusted.
    second_ca = tmp_path / "second.pem"
    second_ca.write_text(_root(second.served)[0])
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(second_ca))
    monkeypatch.setenv("SSL_CERT_FILE", str(second_ca))
    with pytest.raises(UntrustedInstanceError, match="is not the paired instance"):
        Connection(second.url, paired.ca_file).request("GET", "/v1/root-ca", with_token=False)
    assert Connection(first.url, paired.ca_file).request("GET", "/v1/root-ca", with_token=False)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:8443", "HTTPS only"),
        ("ftp://x", "HTTPS only"),
        ("https://", "names no host"),
        ("https://host:99999", "port that is not a number"),
        ("https://host:8443/?x=1", "more than a host and port"),
        ("https://user:pw@host:8443", "more than a host and port"),
    ],
)
def test_bad_addresses_are_sentences(url: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=message):
        pairing.pair(tmp_path, url, fingerprint="AA" * 32)


@pytest.mark.parametrize("fingerprint", ["", "AB:CD", "ZZ" * 32, "AA" * 33])
def test_bad_fingerprints_are_sentences(fingerprint: str) -> None:
    with pytest.raises(ValidationError, match="64 hexadecimal digits"):
        pairing.normalise_fingerprint(fingerprint)


def test_nothing_listening_is_unavailable_not_untrusted(tmp_path: Path) -> None:
    with pytest.raises(InstanceUnavailableError, match=r"cannot reach https://127\.0\.0\.1:9 to fetch"):
        pairing.pair(tmp_path, "https://127.0.0.1:9", confirm=lambda _offer: True)


def test_a_damaged_pairing_file_is_a_sentence(tmp_path: Path) -> None:
    (tmp_path / pairing.FOLDER).mkdir()
    (tmp_path / pairing.FOLDER / "instance.json").write_text("{not json")
    with pytest.raises(InstanceUnavailableError, match="damaged; run `ql-station instance connect URL`"):
        pairing.load(tmp_path)


def test_a_certificate_that_is_not_a_ca_or_no_certificate_is_refused(serving: Serving) -> None:
    chain = serving.served.station.issue_server_certificate(["localhost"]).chain_pem
    leaf = chain[: chain.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")] + "\n"
    with pytest.raises(UntrustedInstanceError, match="is not a certificate authority"):
        pairing.offer_from_pem(serving.url, leaf)
    with pytest.raises(UntrustedInstanceError, match="is not a PEM certificate"):
        pairing.offer_from_pem(serving.url, "hello")
