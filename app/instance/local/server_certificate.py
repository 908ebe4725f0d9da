"""A TLS server certificate for `ql-station serve`, issued by the instance's issuing CA at each start.

The certificate names exactly the host names and the listen address the person serves on, so a client
that pinned the instance's root CA verifies it with no exception; a fresh key each start means the key
only ever lives in the server process (and, for a moment, in a 0600 file its TLS library loads).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from app.domain.errors import NotFoundError
from app.instance.local.key_protection import KeyProtector
from app.instance.local.pki import PkiMaterial, _name, _subject_alternative_names, _usage, load_private_key

SERVER_VALIDITY = timedelta(days=90)
_BACKDATE = timedelta(minutes=5)


@dataclass(frozen=True)
class ServerCertificate:
    """The leaf and the issuing CA (PEM, in the order a TLS server sends them) and the leaf's key."""

    chain_pem: str
    private_key_pem: bytes = field(repr=False)
    names: tuple[str, ...]


def issuing_material(conn: sqlite3.Connection) -> PkiMaterial:
    row = conn.execute(
        "SELECT certificate_pem, encrypted_private_key FROM certificates WHERE role = 'issuing'"
    ).fetchone()
    if row is None:
        raise NotFoundError("the instance has no issuing CA; its database is incomplete")
    return PkiMaterial("issuing", row[0], bytes(row[1]))


def issue(
    issuing: PkiMaterial, protector: KeyProtector, hostnames: Sequence[str], now: datetime | None = None
) -> ServerCertificate:
    """A server certificate for `hostnames` (DNS names or IP addresses), chained to the issuing CA."""
    sans = _subject_alternative_names(hostnames)
    issuer = x509.load_pem_x509_certificate(issuing.certificate_pem.encode("ascii"))
    issuer_key = load_private_key(issuing, protector)
    key = ec.generate_private_key(ec.SECP256R1())
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    issuer_ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    organisation = issuer.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(str(organisation), str(sans[0].value)))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - _BACKDATE)
        .not_valid_after(min(moment + SERVER_VALIDITY, issuer.not_valid_after_utc))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign_certs=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )
    leaf = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ServerCertificate(
        chain_pem=leaf + issuing.certificate_pem,
        private_key_pem=key_pem,
        names=tuple(str(s.value) for s in sans),
    )
