"""What a virtual board holds, read from its own state (flash) rather than from anything the engine said."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.sim import partition_table as pt
from app.sim.board import VirtualBoard
from app.sim.faults import Stage
from app.sim.nvs_store import NvsStore


def board_device_id(board: VirtualBoard) -> str | None:
    """SHA-256 of the DER public key of the enrolment key the board keeps in its NVS, or None."""
    flash = board.state.flash
    try:
        parts = pt.parse_partition_table(flash.read(pt.PARTITION_TABLE_OFFSET, pt.TABLE_AREA_SIZE))
    except pt.PartitionTableError:
        return None
    nvs = pt.find_partition(parts, pt.TYPE_DATA, pt.SUBTYPE_NVS)
    if nvs is None:
        return None
    stored = NvsStore(flash, nvs).get("enrol_key")
    if stored is None:
        return None
    key = serialization.load_der_private_key(bytes.fromhex(stored), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(public).hexdigest()


def flash_was_written(board: VirtualBoard) -> bool:
    return Stage.FLASH_BEGIN in board.stages
