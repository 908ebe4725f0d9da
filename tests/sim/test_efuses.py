from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from app.domain.chips import ChipType
from app.domain.errors import ConflictError
from app.sim.efuses import EfuseState, RealEfuses, decode_virtual, encode_virtual

D1, D2, D3, D4 = (hashlib.sha256(bytes([i])).digest() for i in range(4))


def test_burning_is_one_way_and_idempotent() -> None:
    state = EfuseState().with_secure_boot(ChipType.ESP32C3, D1)
    assert state.secure_boot_en and state.key_digests == (D1,)
    assert state.with_secure_boot(ChipType.ESP32C3, D1) == state
    assert state.with_secure_boot(ChipType.ESP32C3, D2).key_digests == (D1, D2)
    assert state.key_purposes() == (9, 0, 0, 0, 0, 0)


def test_key_blocks_run_out() -> None:
    with pytest.raises(ConflictError, match="no free eFuse key block left for another ESP32 key digest"):
        EfuseState().with_secure_boot(ChipType.ESP32, D1).with_secure_boot(ChipType.ESP32, D2)
    state = EfuseState()
    for digest in (D1, D2, D3):
        state = state.with_secure_boot(ChipType.ESP32S3, digest)
    with pytest.raises(ConflictError):
        state.with_secure_boot(ChipType.ESP32S3, D4)


def test_real_efuses_persist(tmp_path: Path) -> None:
    efuses = RealEfuses(tmp_path / "efuses.json")
    efuses.burn(EfuseState().with_secure_boot(ChipType.ESP32C3, D1))
    assert RealEfuses(tmp_path / "efuses.json").state.key_digests == (D1,)


def test_virtual_efuses_round_trip_and_blank_on_erase() -> None:
    state = EfuseState().with_secure_boot(ChipType.ESP32C3, D2)
    blob = encode_virtual(state)
    assert decode_virtual(blob + b"\xff" * 100) == state
    assert decode_virtual(b"\xff" * 0x2000).blank
    damaged = bytearray(blob)
    damaged[20] ^= 1
    assert decode_virtual(bytes(damaged)).blank
