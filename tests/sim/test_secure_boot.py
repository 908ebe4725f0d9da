"""Secure Boot V2 checks written with `cryptography` agree with espsecure's signing and key digests."""

from __future__ import annotations

from app.domain.chips import ChipType
from app.domain.kinds import IefKind
from app.sim.esp_image import read_image
from app.sim.images import build_sim_ief
from app.sim.secure_boot import SignatureCheck, first_valid, signature_blocks, verify_against_digests
from tests.sim.sim_host import SecureBootV2


def _checks(signed: bytes) -> list[SignatureCheck]:
    return signature_blocks(signed, len(signed) - 0x1000)  # the signature sector is the last one


def test_espsecure_signature_verifies_and_key_digest_matches(sbv2: SecureBootV2) -> None:
    signed = sbv2.sign(build_sim_ief(ChipType.ESP32C3, IefKind.DEBUG))
    checks = _checks(signed)
    assert read_image(signed, 0, len(signed)).signed_length == len(signed) - 0x1000
    assert len(checks) == 1 and checks[0].valid
    assert checks[0].key_digest == sbv2.digest()
    assert verify_against_digests(checks, [sbv2.digest()]) is checks[0]
    assert verify_against_digests(checks, [sbv2.digest(sbv2.other_key)]) is None


def test_tampered_data_or_block_does_not_verify(sbv2: SecureBootV2) -> None:
    signed = bytearray(sbv2.sign(build_sim_ief(ChipType.ESP32, IefKind.DEBUG)))
    data_flipped = bytearray(signed)
    data_flipped[0x9000] ^= 0xFF  # inside the signed padding, so the image itself still parses
    assert first_valid(_checks(bytes(data_flipped))) is None
    assert "image digest mismatch" in _checks(bytes(data_flipped))[0].problem
    sig_flipped = bytearray(signed)
    sig_flipped[0x10000 + 900] ^= 0x01  # inside the signature
    assert _checks(bytes(sig_flipped))[0].problem == "signature block 0 CRC mismatch"


def test_unsigned_image_has_no_blocks() -> None:
    data = build_sim_ief(ChipType.ESP32S2, IefKind.DEBUG) + b"\xff" * 0x1000
    assert _checks(data) == []
