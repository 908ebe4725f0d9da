"""Pairing a station with a served instance: fetch its root CA, have a person confirm it, keep it.

`pair()` is the one way in, for the CLI (`ql-station instance connect`) and the window (Settings →
Instance). Trust is decided once, here, by a person: the root CA the server offers is shown by its
SHA-256 fingerprint (the one `ql-station serve` prints), or checked against a fingerprint or a CA file
given beforehand. From then on every connection trusts that CA and nothing else (see `connection.py`).

The offer is fetched before anything is trusted, so that one request (`GET /v1/root-ca`, a public
document) cannot verify the server; what it returns is only a candidate. It becomes the trust anchor
after the fingerprint matches AND a second, verified request to the same address succeeds with that CA
alone: so an expired server certificate, one not valid for the address, or a server that is not
chained to that CA is refused, each with a sentence. There is no option to skip any of it.

The pairing is kept in the data folder (`remote-instance/`: the URL and the CA file); `forget()` returns
the station to its built-in instance.
"""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from app.domain.errors import InstanceUnavailableError, ValidationError
from app.instance.remote.connection import Connection, UntrustedInstanceError
from app.instance.remote.routes import ROOT_CA_PATH
from app.system.private_files import private_dir, write_private

FOLDER = "remote-instance"
_SETTINGS = "instance.json"
_CA = "root-ca.pem"
FETCH_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Pairing:
    """A paired instance: where it is and the only CA its certificates are trusted from."""

    url: str
    ca_file: Path
    fingerprint: str


@dataclass(frozen=True)
class RootCaOffer:
    """The root CA a server offers, before anyone trusts it."""

    url: str
    pem: str
    fingerprint: str
    subject: str
    not_after: datetime


def normalise_url(url: str) -> str:
    """`https://host[:port]` without a trailing slash; anything else is refused with a sentence."""
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme != "https":
        raise ValidationError(f"an instance is reached over HTTPS only; {url!r} is not an https:// address")
    if not parts.hostname:
        raise ValidationError(f"{url!r} names no host; give it as https://HOST:PORT")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValidationError(f"{url!r} has more than a host and port; give it as https://HOST:PORT")
    try:
        parts.port  # noqa: B018 - reading it checks it
    except ValueError:
        raise ValidationError(f"{url!r} has a port that is not a number from 1 to 65535") from None
    return f"https://{parts.netloc}{parts.path.rstrip('/')}"


def normalise_fingerprint(text: str) -> str:
    """A SHA-256 fingerprint as `AB:CD:...` (64 hex digits, given with or without colons or spaces)."""
    digits = "".join(ch for ch in text if ch not in ": \t").upper()
    if len(digits) != 64 or any(ch not in "0123456789ABCDEF" for ch in digits):
        raise ValidationError(
            "a SHA-256 fingerprint is 64 hexadecimal digits (pairs may be separated by ':'), "
            "as `ql-station serve` prints it"
        )
    return ":".join(digits[i : i + 2] for i in range(0, 64, 2))


def offer_from_pem(url: str, pem: str) -> RootCaOffer:
    """Read a root CA certificate; one that is not a CA, or not valid today, is refused."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise UntrustedInstanceError(
            f"the root CA from {url} is not a PEM certificate; is the address a ql-station server?"
        ) from None
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise UntrustedInstanceError(f"the certificate from {url} is not a certificate authority")
    now = datetime.now(UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise UntrustedInstanceError(
            f"the root CA of {url} is valid from {cert.not_valid_before_utc:%Y-%m-%d} to "
            f"{cert.not_valid_after_utc:%Y-%m-%d}, not today; the instance needs a new PKI"
        )
    return RootCaOffer(
        url=url,
        pem=pem,
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        subject=cert.subject.rfc4514_string(),
        not_after=cert.not_valid_after_utc,
    )


def fetch_root_ca(url: str, timeout_s: float = FETCH_TIMEOUT_S) -> RootCaOffer:
    """The root CA the server at `url` offers. Not trusted: see the module's docstring."""
    base = normalise_url(url)
    parts = urlsplit(base)
    # Nothing is verified on this one request by design: its answer is a candidate a person or a
    # given fingerprint must confirm, and `verify_server` then checks the server with it alone.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    connection = http.client.HTTPSConnection(
        parts.hostname or "", parts.port or 443, timeout=timeout_s, context=context
    )
    try:
        connection.request("GET", parts.path + ROOT_CA_PATH, headers={"Accept": "application/json"})
        response = connection.getresponse()
        status, body = response.status, response.read(1024 * 1024)
    except (OSError, http.client.HTTPException) as exc:
        raise InstanceUnavailableError(f"cannot reach {base} to fetch its root CA: {exc}") from None
    finally:
        connection.close()
    if status != 200:
        raise InstanceUnavailableError(
            f"{base} answered HTTP {status} to a request for its root CA; is it a ql-station server?"
        )
    try:
        pem = json.loads(body)["pem"]
    except (ValueError, KeyError, TypeError):
        pem = None
    if not isinstance(pem, str):
        raise InstanceUnavailableError(f"{base} did not answer with a root CA; is it a ql-station server?")
    return offer_from_pem(base, pem)


def check_fingerprint(offer: RootCaOffer, expected: str) -> None:
    wanted = normalise_fingerprint(expected)
    if offer.fingerprint != wanted:
        raise UntrustedInstanceError(
            f"the root CA of {offer.url} has the SHA-256 fingerprint {offer.fingerprint}, not the expected "
            f"{wanted}: this is another instance, or someone is in between; nothing was paired"
        )


def verify_server(offer: RootCaOffer, folder: Path) -> None:
    """Talk to the server trusting `offer` alone; its certificate must chain to it and fit the address."""
    candidate = folder / f"{_CA}.candidate"
    _write_private(candidate, offer.pem)
    connection = Connection(offer.url, candidate, connect_timeout_s=FETCH_TIMEOUT_S, read_timeout_s=30)
    try:
        answer = connection.request("GET", ROOT_CA_PATH, with_token=False)
    except UntrustedInstanceError as exc:
        reason = str(exc).rsplit("for this address: ", 1)[-1]  # the TLS library's own words
        raise UntrustedInstanceError(_refusal(offer.url, reason)) from None
    finally:
        connection.close()
        candidate.unlink(missing_ok=True)
    served = answer.get("pem") if isinstance(answer, dict) else None
    if not isinstance(served, str) or offer_from_pem(offer.url, served).fingerprint != offer.fingerprint:
        raise UntrustedInstanceError(
            f"{offer.url} is chained to this root CA but serves another instance's root; nothing was paired"
        )


def _refusal(url: str, detail: str) -> str:
    """A TLS failure as a sentence a person can act on."""
    lowered = detail.lower()
    if "expired" in lowered or "not yet valid" in lowered:
        return (
            f"the server certificate of {url} has expired (or is not valid yet); restart `ql-station serve` "
            "on the instance, which issues a fresh one, and check both computers' clocks"
        )
    if "mismatch" in lowered:  # OpenSSL: "Hostname mismatch", "IP address mismatch"
        host = urlsplit(url).hostname
        return (
            f"the server certificate is not valid for the address {host}; connect with a name the server "
            f"was started with, or restart it with `ql-station serve --hostname {host}`"
        )
    return (
        f"the server at {url} is not issued by this root CA: it is another instance, or someone is in "
        "between; nothing was paired"
    )


def pair(
    data_root: Path,
    url: str,
    *,
    fingerprint: str | None = None,
    ca_pem: str | None = None,
    confirm: Callable[[RootCaOffer], bool] | None = None,
) -> Pairing:
    """Pair `data_root`'s station with the instance at `url` and keep the pairing.

    The root CA is trusted when it matches `fingerprint`, or is `ca_pem` (a CA file the person holds),
    or when `confirm` (shown the offer) says yes. With none of them nothing is trusted.
    """
    base = normalise_url(url)
    if ca_pem is not None:
        offer = offer_from_pem(base, ca_pem)
        if fingerprint is not None:
            check_fingerprint(offer, fingerprint)
    else:
        offer = fetch_root_ca(base)
        if fingerprint is not None:
            check_fingerprint(offer, fingerprint)
        elif confirm is None:
            raise ValidationError(
                "pairing needs the root CA's fingerprint confirmed: give --fingerprint (as `ql-station "
                "serve` prints it) or --ca-file, or run it at a terminal to confirm it there"
            )
        elif not confirm(offer):
            raise ValidationError("the fingerprint was not confirmed; nothing was paired")
    folder = private_dir(data_root / FOLDER, what="paired instance folder")
    verify_server(offer, folder)
    return _save(folder, offer)


def _save(folder: Path, offer: RootCaOffer) -> Pairing:
    ca_file = folder / _CA
    _write_private(ca_file, offer.pem)
    settings = {"url": offer.url, "fingerprint_sha256": offer.fingerprint}
    _write_private(folder / _SETTINGS, json.dumps(settings, indent=2) + "\n")
    return Pairing(offer.url, ca_file, offer.fingerprint)


def _write_private(path: Path, text: str) -> None:
    write_private(path, text.encode("utf-8"), what="paired instance file")


def load(data_root: Path) -> Pairing | None:
    """The kept pairing, or None for the built-in instance. A damaged one is a sentence, not a crash."""
    folder = data_root / FOLDER
    settings_file = folder / _SETTINGS
    if not settings_file.exists():
        return None
    try:
        settings = json.loads(settings_file.read_text(encoding="utf-8"))
        url, fingerprint = str(settings["url"]), str(settings["fingerprint_sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        raise InstanceUnavailableError(
            f"the paired instance settings in {settings_file} are damaged; run "
            "`ql-station instance connect URL` again, or `ql-station instance disconnect`"
        ) from None
    return Pairing(url, folder / _CA, fingerprint)


def forget(data_root: Path) -> Pairing | None:
    """Return to the built-in instance; the pairing that was kept, if any."""
    kept = load_quietly(data_root)
    folder = data_root / FOLDER
    for name in (_SETTINGS, _CA):
        (folder / name).unlink(missing_ok=True)
    return kept


def load_quietly(data_root: Path) -> Pairing | None:
    try:
        return load(data_root)
    except InstanceUnavailableError:
        return None
