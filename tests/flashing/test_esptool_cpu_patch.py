"""The HexFormatter CPU patch: active on esptool 5.6, absent elsewhere, and flashing unchanged."""

from __future__ import annotations

import hashlib
import random
from types import ModuleType
from typing import Any

import pytest

from app.domain.kinds import ImageKind
from app.domain.records import FlashImage
from app.flashing.board_connection import BoardConnection, ResetMode
from app.flashing.esptool_cpu_patch import PLACEHOLDER, apply_cpu_patch, cpu_patch_active
from app.flashing.esptool_runtime import CPU_PATCH, ESPTOOL_VERSION, loader
from app.flashing.flash_events import FlashEvent

from .conftest import MockPeer, start_mock_peer

_ORIGINAL: Any = loader.HexFormatter.__mro__[1]  # the class esptool defines, under our patch


def _original_class() -> Any:
    return _ORIGINAL


def test_patch_active_in_this_esptool() -> None:
    assert ESPTOOL_VERSION.startswith("5.6.")
    assert CPU_PATCH.active, CPU_PATCH.reason
    assert cpu_patch_active(loader)
    data = bytes(range(64))
    assert f"{loader.HexFormatter(data)}" == PLACEHOLDER
    assert str(loader.HexFormatter(data)) == str(_original_class()(data))  # explicit str() keeps the dump


@pytest.mark.parametrize("size", [0, 1, 2, 3, 7, 4096, 16385])
def test_block_checksum_is_esptools_own(size: int) -> None:
    checksum = loader.ESPLoader.checksum
    original = checksum.station_original
    data = random.Random(size).randbytes(size)
    for state in (0xEF, 0x00, 0x5A):
        assert checksum(data, state) == original(data, state)
    assert checksum(bytearray(data)) == checksum(memoryview(data)) == original(data)
    assert checksum(list(data)) == original(list(data))  # not bytes-like: esptool's loop


def _fake_loader() -> ModuleType:
    module = ModuleType("fake_loader")

    class HexFormatter:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def __str__(self) -> str:
            return self.data.hex()

    module.HexFormatter = HexFormatter  # type: ignore[attr-defined]
    return module


@pytest.mark.parametrize("version", ["5.7.0", "6.0", "4.8.1", "dev"])
def test_other_versions_left_alone(version: str) -> None:
    module = _fake_loader()
    status = apply_cpu_patch(module, version)
    assert not status.active
    assert version in status.reason
    assert not cpu_patch_active(module)
    assert f"{module.HexFormatter(b'ab')}" == "6162"


def test_patch_is_idempotent_and_needs_the_class() -> None:
    module = _fake_loader()
    assert apply_cpu_patch(module, "5.6.3").active
    patched = module.HexFormatter
    assert apply_cpu_patch(module, "5.6.3").reason == "already patched"
    assert module.HexFormatter is patched
    assert not apply_cpu_patch(ModuleType("empty"), "5.6.0").active


def _flash_counting_dumps(
    peer: MockPeer, data: bytes, monkeypatch: pytest.MonkeyPatch
) -> tuple[bool, str, int]:
    original = _original_class()
    calls = 0
    original_str = original.__str__

    def counting_str(self: Any) -> str:
        nonlocal calls
        calls += 1
        return str(original_str(self))

    with monkeypatch.context() as patch:
        patch.setattr(original, "__str__", counting_str)
        events: list[FlashEvent] = []
        with BoardConnection.open(peer.url, reset=ResetMode.NO_RESET, sink=events.append) as board:
            board.run_stub()
            result = board.write_images([FlashImage(0x10000, ImageKind.IEF, "ief", data)])
            md5 = board.flash_md5(0x10000, len(data))
    return result.verified[0], md5, calls


def test_flash_result_same_with_and_without_patch(
    mock_c3: MockPeer, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = random.Random(7).randbytes(128 * 1024)  # incompressible: many packets
    expected_md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()

    patched = _flash_counting_dumps(mock_c3, data, monkeypatch)
    unpatched_peer = start_mock_peer("esp32c3", tmp_path)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(loader, "HexFormatter", _original_class())
            unpatched = _flash_counting_dumps(unpatched_peer, data, monkeypatch)
    finally:
        unpatched_peer.stop()

    assert patched[:2] == (True, expected_md5)
    assert unpatched[:2] == (True, expected_md5)
    assert patched[2] == 0  # with the patch no hex dump is ever built
    assert unpatched[2] > 10  # without it, one per packet
