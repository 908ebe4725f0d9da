"""The generated PKI, judged by `cryptography`'s own checks and by a real TLS handshake over a socket pair."""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from app.domain.errors import ValidationError
from app.instance.local.key_protection import KeyProtector
from app.instance.local.pki import (
    PkiMaterial,
    default_tls_hostnames,
    describe_certificate,
    generate_pki,
    load_private_key,
    verify_chain,
)

HOSTNAMES = ["localhost", "127.0.0.1", "::1", "Station-01.local"]


@pytest.fixture(scope="module")
def protector() -> KeyProtector:
    return KeyProtector(os.urandom(32), "keyring")


@pytest.fixture(scope="module")
def pki(protector: KeyProtector) -> dict[str, PkiMaterial]:
    return {m.role: m for m in generate_pki("Acme Line 3", HOSTNAMES, protector)}


def _cert(material: PkiMaterial) -> x509.Certificate:
    return x509.load_pem_x509_certificate(material.certificate_pem.encode())


_E = TypeVar("_E", bound=x509.ExtensionType)


def _ext(cert: x509.Certificate, kind: type[_E]) -> x509.Extension[_E]:
    return cert.extensions.get_extension_for_class(kind)


def test_roles_in_order(protector: KeyProtector) -> None:
    assert [m.role for m in generate_pki("x", ["localhost"], protector)] == ["root", "issuing", "tls"]


def test_chain_verifies(pki: dict[str, PkiMaterial]) -> None:
    root, issuing, tls = (_cert(pki[r]) for r in ("root", "issuing", "tls"))
    root.verify_directly_issued_by(root)
    issuing.verify_directly_issued_by(root)
    tls.verify_directly_issued_by(issuing)
    verify_chain(list(pki.values()))
    with pytest.raises(ValueError):
        tls.verify_directly_issued_by(root)


def test_ca_flags_usages_and_names(pki: dict[str, PkiMaterial]) -> None:
    root, issuing, tls = (_cert(pki[r]) for r in ("root", "issuing", "tls"))
    for cert, path_length in ((root, 1), (issuing, 0)):
        constraints = _ext(cert, x509.BasicConstraints)
        assert constraints.critical
        assert constraints.value == x509.BasicConstraints(ca=True, path_length=path_length)
        usage = _ext(cert, x509.KeyUsage)
        assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert _ext(tls, x509.BasicConstraints).value.ca is False
    tls_usage = _ext(tls, x509.KeyUsage).value
    assert tls_usage.digital_signature and not tls_usage.key_cert_sign
    assert list(_ext(tls, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert "Acme Line 3 OEM Root CA" in root.subject.rfc4514_string()
    assert "Acme Line 3 Issuing CA" in issuing.subject.rfc4514_string()
    assert root.subject == root.issuer and issuing.issuer == root.subject and tls.issuer == issuing.subject
    for cert in (root, issuing, tls):
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
        assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)


def test_key_identifiers_link_the_chain(pki: dict[str, PkiMaterial]) -> None:
    root, issuing, tls = (_cert(pki[r]) for r in ("root", "issuing", "tls"))
    for child, parent in ((root, root), (issuing, root), (tls, issuing)):
        ski = _ext(child, x509.SubjectKeyIdentifier).value
        assert ski == x509.SubjectKeyIdentifier.from_public_key(child.public_key())
        parent_ski = _ext(parent, x509.SubjectKeyIdentifier).value
        assert _ext(child, x509.AuthorityKeyIdentifier).value.key_identifier == parent_ski.digest


def test_subject_alternative_names(pki: dict[str, PkiMaterial]) -> None:
    sans = _ext(_cert(pki["tls"]), x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost", "station-01.local"]
    assert sans.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]


def test_validity_periods(pki: dict[str, PkiMaterial]) -> None:
    now = datetime.now(UTC)
    for role, years in (("root", 20), ("issuing", 10), ("tls", 2)):
        cert = _cert(pki[role])
        assert cert.not_valid_before_utc <= now
        lifetime = cert.not_valid_after_utc - now
        assert timedelta(days=365 * years - 2) < lifetime < timedelta(days=365 * years + 8), role


def test_encrypted_keys_match_the_certificates(pki: dict[str, PkiMaterial], protector: KeyProtector) -> None:
    for material in pki.values():
        key = load_private_key(material, protector)
        expected = (
            _cert(material)
            .public_key()
            .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        assert (
            key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            == expected
        )
        der = protector.decrypt(material.encrypted_private_key, f"pki:{material.role}")
        assert der not in material.encrypted_private_key


def test_keys_need_the_right_protector_and_label(pki: dict[str, PkiMaterial]) -> None:
    with pytest.raises(ValidationError, match="'pki:root' cannot be decrypted"):
        load_private_key(pki["root"], KeyProtector(os.urandom(32), "keyring"))
    swapped = PkiMaterial("tls", pki["tls"].certificate_pem, pki["root"].encrypted_private_key)
    with pytest.raises(ValidationError, match="'pki:tls' cannot be decrypted"):
        load_private_key(swapped, KeyProtector(os.urandom(32), "keyring"))


def test_repr_holds_no_private_key(pki: dict[str, PkiMaterial], protector: KeyProtector) -> None:
    for material in pki.values():
        text = repr(material)
        assert "PRIVATE KEY" not in text
        assert "encrypted_private_key" not in text
        assert repr(material.encrypted_private_key) not in text
        assert material.role in text


def test_tls_handshake_trusts_the_root(
    pki: dict[str, PkiMaterial], protector: KeyProtector, tmp_path: Path
) -> None:
    chain = tmp_path / "chain.pem"
    chain.write_text(pki["tls"].certificate_pem + pki["issuing"].certificate_pem)
    key_file = tmp_path / "tls.key"
    key_file.write_bytes(
        load_private_key(pki["tls"], protector).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(chain, key_file)
    client_ctx = ssl.create_default_context(cadata=pki["root"].certificate_pem)

    def handshake(server_hostname: str) -> str | None:
        left, right = socket.socketpair()
        server_error: list[BaseException] = []

        def serve() -> None:
            try:
                with server_ctx.wrap_socket(right, server_side=True) as tls_server:
                    tls_server.recv(1)
            except (ssl.SSLError, OSError) as exc:
                server_error.append(exc)

        thread = threading.Thread(target=serve)
        thread.start()
        try:
            with client_ctx.wrap_socket(left, server_hostname=server_hostname) as tls_client:
                tls_client.sendall(b"x")
                return None
        except ssl.SSLCertVerificationError as exc:
            return str(exc.verify_message)
        finally:
            left.close()
            thread.join(timeout=10)
            right.close()

    assert handshake("localhost") is None
    assert handshake("station-01.local") is None
    assert handshake("127.0.0.1") is None
    assert "mismatch" in (handshake("elsewhere.example") or "")


def test_describe_certificate(pki: dict[str, PkiMaterial]) -> None:
    pem = pki["issuing"].certificate_pem
    cert = _cert(pki["issuing"])
    info = describe_certificate("issuing", pem)
    assert info.role == "issuing"
    assert info.subject == cert.subject.rfc4514_string() and "Issuing CA" in info.subject
    assert info.issuer == cert.issuer.rfc4514_string() and "OEM Root CA" in info.issuer
    assert int(info.serial_hex, 16) == cert.serial_number
    assert info.not_before.tzinfo is not None and info.not_after.tzinfo is not None
    assert info.not_before.utcoffset() == timedelta(0)
    assert info.not_after == cert.not_valid_after_utc
    digest = cert.fingerprint(hashes.SHA256())
    assert info.fingerprint_sha256 == ":".join(f"{b:02X}" for b in digest)
    assert len(info.fingerprint_sha256) == 32 * 3 - 1
    assert info.pem == pem


def test_describe_refuses_bad_input(pki: dict[str, PkiMaterial]) -> None:
    with pytest.raises(
        ValidationError, match="certificate role must be one of root, issuing, tls; got 'device'"
    ):
        describe_certificate("device", pki["root"].certificate_pem)
    with pytest.raises(ValidationError, match=r"the tls certificate is not a PEM-encoded X\.509 certificate"):
        describe_certificate("tls", "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    with pytest.raises(ValidationError, match="the root certificate is not a PEM-encoded"):
        describe_certificate("root", "caf\u00e9")


def test_verify_chain_names_the_break(pki: dict[str, PkiMaterial], protector: KeyProtector) -> None:
    other = {m.role: m for m in generate_pki("Other", ["localhost"], protector)}
    with pytest.raises(
        ValidationError, match="the issuing certificate is not issued by the root certificate"
    ):
        verify_chain([pki["root"], other["issuing"], pki["tls"]])
    with pytest.raises(ValidationError, match="the tls certificate is not issued by the issuing certificate"):
        verify_chain([pki["root"], pki["issuing"], other["tls"]])
    with pytest.raises(ValidationError, match="the instance PKI is incomplete: no issuing, tls certificate"):
        verify_chain([pki["root"]])


@pytest.mark.parametrize(
    ("name", "hostnames", "message"),
    [
        ("", ["localhost"], "the instance needs a name to put in its certificates"),
        ("   ", ["localhost"], "the instance needs a name"),
        ("n" * 65, ["localhost"], "the instance name is too long for a certificate (65 > 64 characters)"),
        ("ok", [], "the TLS certificate needs at least one host name or IP address"),
        ("ok", ["bad host"], "'bad host' is not a host name or IP address for the TLS certificate"),
        ("ok", ["-lead.example"], "'-lead.example' is not a host name"),
        ("ok", ["a..b"], "'a..b' is not a host name"),
        ("ok", ["*.example.com"], "'*.example.com' is not a host name"),
    ],
)
def test_generate_refuses_bad_input(
    name: str, hostnames: list[str], message: str, protector: KeyProtector
) -> None:
    with pytest.raises(ValidationError) as raised:
        generate_pki(name, hostnames, protector)
    assert message in str(raised.value)


def test_duplicate_and_trailing_dot_names_collapse(protector: KeyProtector) -> None:
    tls = _cert(generate_pki("x", ["LocalHost.", "localhost", "10.0.0.1", "10.0.0.1"], protector)[2])
    sans = _ext(tls, x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.1")]


def test_default_hostnames_are_accepted(protector: KeyProtector) -> None:
    names = default_tls_hostnames()
    assert names[:3] == ["localhost", "127.0.0.1", "::1"]
    generate_pki("x", names, protector)
