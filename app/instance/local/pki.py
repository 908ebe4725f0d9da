"""The local instance's PKI: an OEM root CA, an issuing CA under it, and a TLS server certificate.

Generated once when the local instance is created. Boards get the root CA through the IEF (`ql_rootCA`)
and trust the instance's TLS certificate through it, so the chain must verify exactly as a TLS client
checks it: CA flags and path lengths, key usages, key identifiers and the server's names as SANs.
Private keys leave this module only encrypted under the instance KEK (`KeyProtector`).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.domain.errors import ValidationError
from app.domain.records import CertificateInfo
from app.instance.local.key_protection import KeyProtector

ROLES = ("root", "issuing", "tls")
ROOT_VALIDITY = timedelta(days=20 * 365 + 5)
ISSUING_VALIDITY = timedelta(days=10 * 365 + 2)
TLS_VALIDITY = timedelta(days=2 * 365)
_BACKDATE = timedelta(minutes=5)  # tolerate a board or client whose clock is a little behind
_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_MAX_NAME = 64


@dataclass(frozen=True)
class PkiMaterial:
    """One certificate with its private key encrypted under the instance KEK (label `pki:<role>`)."""

    role: str
    certificate_pem: str
    encrypted_private_key: bytes = field(repr=False)

    @property
    def key_label(self) -> str:
        return key_label(self.role)


def key_label(role: str) -> str:
    return f"pki:{role}"


def default_tls_hostnames() -> list[str]:
    """Names a local instance answers to: loopback, plus this computer's name for boards on the LAN."""
    names = ["localhost", "127.0.0.1", "::1"]
    host = socket.gethostname().strip().rstrip(".")
    if host and _is_dns_name(host) and host.lower() != "localhost":
        names.append(host)
    return names


def _is_dns_name(name: str) -> bool:
    return len(name) <= 253 and all(_DNS_LABEL.match(label) for label in name.split("."))


def _subject_alternative_names(hostnames: Sequence[str]) -> list[x509.GeneralName]:
    if not hostnames:
        raise ValidationError("the TLS certificate needs at least one host name or IP address")
    names: list[x509.GeneralName] = []
    for raw in hostnames:
        text = raw.strip().rstrip(".")
        try:
            entry: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(text))
        except ValueError:
            if not _is_dns_name(text):
                raise ValidationError(
                    f"{raw!r} is not a host name or IP address for the TLS certificate (use letters, digits, "
                    "'-' and '.' only, e.g. station-01.local or 192.168.1.20)"
                ) from None
            entry = x509.DNSName(text.lower())
        if entry not in names:
            names.append(entry)
    return names


def _name(instance_name: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, instance_name),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:_MAX_NAME]),
        ]
    )


def _build(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    validity: timedelta,
    extensions: Sequence[tuple[x509.ExtensionType, bool]],
    now: datetime,
) -> x509.Certificate:
    public = key.public_key()
    ski = x509.SubjectKeyIdentifier.from_public_key(public)
    if issuer is None:
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    else:
        issuer_ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(ski, critical=False)
        .add_extension(aki, critical=False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _usage(*, sign_certs: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign_certs,
        crl_sign=sign_certs,
        encipher_only=False,
        decipher_only=False,
    )


def _material(
    role: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, protector: KeyProtector
) -> PkiMaterial:
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return PkiMaterial(
        role=role,
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        encrypted_private_key=protector.encrypt(pkcs8, key_label(role)),
    )


def generate_pki(
    instance_name: str, tls_hostnames: Sequence[str], protector: KeyProtector
) -> list[PkiMaterial]:
    """Root, issuing and TLS certificates (in that order), EC P-256 keys, each key encrypted."""
    name = instance_name.strip()
    if not name:
        raise ValidationError("the instance needs a name to put in its certificates")
    if len(name) > _MAX_NAME:
        raise ValidationError(
            f"the instance name is too long for a certificate ({len(name)} > {_MAX_NAME} characters)"
        )
    sans = _subject_alternative_names(tls_hostnames)
    now = datetime.now(UTC).replace(microsecond=0)

    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _build(
        _name(name, f"{name} OEM Root CA"),
        root_key,
        None,
        root_key,
        ROOT_VALIDITY,
        [(x509.BasicConstraints(ca=True, path_length=1), True), (_usage(sign_certs=True), True)],
        now,
    )
    issuing_key = ec.generate_private_key(ec.SECP256R1())
    issuing = _build(
        _name(name, f"{name} Issuing CA"),
        issuing_key,
        root,
        root_key,
        ISSUING_VALIDITY,
        [(x509.BasicConstraints(ca=True, path_length=0), True), (_usage(sign_certs=True), True)],
        now,
    )
    tls_key = ec.generate_private_key(ec.SECP256R1())
    first = sans[0].value
    tls = _build(
        _name(name, str(first)),
        tls_key,
        issuing,
        issuing_key,
        TLS_VALIDITY,
        [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (_usage(sign_certs=False), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (x509.SubjectAlternativeName(sans), False),
        ],
        now,
    )
    return [
        _material("root", root, root_key, protector),
        _material("issuing", issuing, issuing_key, protector),
        _material("tls", tls, tls_key, protector),
    ]


def load_private_key(material: PkiMaterial, protector: KeyProtector) -> ec.EllipticCurvePrivateKey:
    """The decrypted key of one certificate, for issuing device certificates or serving TLS."""
    der = protector.decrypt(material.encrypted_private_key, material.key_label)
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValidationError(f"the stored {material.role} key is not an EC key")
    return key


def _load_certificate(role: str, pem: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise ValidationError(f"the {role} certificate is not a PEM-encoded X.509 certificate") from None


def fingerprint_sha256(cert: x509.Certificate) -> str:
    """Upper-case hex pairs joined by ':' (AB:CD:...), as browsers and `openssl x509 -fingerprint` show."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def describe_certificate(role: str, pem: str) -> CertificateInfo:
    """What the PKI page and `instance certificates` show. Serial: lower-case hex without separators."""
    if role not in ROLES:
        raise ValidationError(f"certificate role must be one of {', '.join(ROLES)}; got {role!r}")
    cert = _load_certificate(role, pem)
    return CertificateInfo(
        role=role,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial_hex=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint_sha256=fingerprint_sha256(cert),
        pem=pem,
    )


def verify_chain(materials: Sequence[PkiMaterial]) -> None:
    """Check root -> issuing -> tls signatures, names and CA flags; raise ValidationError naming the break."""
    by_role = {m.role: m for m in materials}
    missing = [role for role in ROLES if role not in by_role]
    if missing:
        raise ValidationError(f"the instance PKI is incomplete: no {', '.join(missing)} certificate")
    certs = {role: _load_certificate(role, by_role[role].certificate_pem) for role in ROLES}
    for child, parent in (("root", "root"), ("issuing", "root"), ("tls", "issuing")):
        try:
            certs[child].verify_directly_issued_by(certs[parent])
        except (ValueError, TypeError, InvalidSignature) as exc:
            why = str(exc) or "its signature does not verify"
            raise ValidationError(
                f"the {child} certificate is not issued by the {parent} certificate: {why}"
            ) from None
    for role in ("root", "issuing"):
        constraints = certs[role].extensions.get_extension_for_class(x509.BasicConstraints).value
        if not constraints.ca:
            raise ValidationError(f"the {role} certificate is not a CA certificate")
