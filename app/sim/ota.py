"""Over-the-air update on a virtual board: check a downloaded app, write it to `ota_0`, select it.

What ESP-IDF's `esp_ota_ops` and the app's Secure Boot V2 check do, in the simulator's terms:
- the image must be a valid ESP app image for this chip (header, segments, checksum, SHA-256);
- its Secure Boot V2 signature must verify with a key whose digest this board's secure bootloader was
  provisioned with (the real eFuses of a release build, the virtual eFuses in `efuse_em` of a veFuse
  build), so an image signed by any other key is refused before a byte is written;
- it is written to the `ota_0` partition and the `otadata` partition is set to boot it; the board then
  restarts and the second-stage bootloader checks the signature again before it runs it.

`otadata` holds ESP-IDF's `esp_ota_select_entry_t` in two sectors: ota_seq (u32), seq_label (20 bytes),
ota_state (u32), crc (u32) = crc32_le(0xFFFFFFFF, ota_seq). The valid entry with the highest sequence
number wins; with one OTA slot, any valid sequence selects `ota_0`.
"""

from __future__ import annotations

import struct
import zlib

from app.domain.chips import PARTITION_TABLE_OFFSET
from app.sim import partition_table as pt
from app.sim.console import Console
from app.sim.efuses import decode_virtual
from app.sim.esp_image import ImageError, read_image
from app.sim.images import app_version
from app.sim.run_context import RunContext
from app.sim.secure_boot import signature_blocks, verify_against_digests

_ENTRY = struct.Struct("<I20sII")
_SECTOR = 0x1000
_STATE_UNDEFINED = 0xFFFFFFFF  # rollback disabled: the image is used as soon as it is selected


class OtaFailure(Exception):
    """The update was refused; the message is the board's error line (tag QL)."""


def trusted_key_digests(ctx: RunContext, parts: tuple[pt.Partition, ...]) -> list[bytes]:
    """The key digests this board's secure boot trusts: real eFuses, plus virtual ones of a veFuse build."""
    digests = list(ctx.state.efuses.state.key_digests)
    efuse_em = pt.find_partition(parts, pt.TYPE_DATA, pt.SUBTYPE_EFUSE)
    if efuse_em is not None:
        virtual = decode_virtual(ctx.state.flash.read(efuse_em.offset, efuse_em.size))
        if virtual.secure_boot_en:
            digests += list(virtual.key_digests)
    return digests


def selected_sequence(data: bytes) -> int | None:
    """The highest valid ota_seq in `otadata` (two sectors), or None: boot the factory app."""
    best: int | None = None
    for sector in range(2):
        raw = data[sector * _SECTOR : sector * _SECTOR + _ENTRY.size]
        if len(raw) < _ENTRY.size:
            continue
        seq, _label, _state, crc = _ENTRY.unpack(raw)
        if seq in (0, 0xFFFFFFFF) or crc != _crc(seq):
            continue
        best = seq if best is None else max(best, seq)
    return best


def apply_update(ctx: RunContext, con: Console, image: bytes, version: str) -> None:
    """Check `image` and make it the app the next boot runs; OtaFailure with the reason when refused."""
    parts = pt.parse_partition_table(ctx.state.flash.read(PARTITION_TABLE_OFFSET, pt.TABLE_AREA_SIZE))
    slot = pt.find_partition(parts, pt.TYPE_APP, pt.SUBTYPE_OTA_0)
    otadata = pt.find_partition(parts, pt.TYPE_DATA, pt.SUBTYPE_OTADATA)
    if slot is None or otadata is None:
        con.error("esp_ota_ops", "no OTA app partition (ota_0) and otadata in the partition table")
        raise OtaFailure("firmware update refused: this board's partition table has no OTA slot")
    try:
        app = read_image(image, 0, len(image))
    except ImageError as exc:
        con.error("esp_image", exc.rom_text)
        raise OtaFailure(f"firmware update refused: not a valid app image ({exc.rom_text})") from None
    own = ctx.chip.profile.image_chip_id
    if app.chip_id != own:
        con.error("esp_image", f"image has chip id {app.chip_id}, this chip is {own} ({ctx.chip.value})")
        raise OtaFailure(
            f"firmware update refused: wrong chip (the image is for chip id {app.chip_id}, "
            f"this is {ctx.chip.display_name})"
        )
    checks = signature_blocks(image, app.signed_length)
    if verify_against_digests(checks, trusted_key_digests(ctx, parts)) is None:
        problems = "; ".join(c.problem for c in checks if c.problem) or "no signature block by a trusted key"
        con.error("secure_boot_v2", f"Secure Boot V2 verification failed ({problems})")
        raise OtaFailure(
            "firmware update refused: bad signature (not signed by a key this board's secure boot trusts)"
        )
    if len(image) > slot.size:
        con.error("esp_ota_ops", f"image is {len(image)} bytes, partition '{slot.name}' holds {slot.size}")
        raise OtaFailure(f"firmware update refused: the image does not fit partition '{slot.name}'")
    con.info("secure_boot_v2", "Verifying with RSA-PSS... Signature verified successfully!")
    flash = ctx.state.flash
    flash.erase(slot.offset, len(image))
    flash.write(slot.offset, image)
    con.info("esp_ota_ops", f"wrote {len(image)} bytes to partition '{slot.name}' at {slot.offset:#x}")
    seq = (selected_sequence(flash.read(otadata.offset, otadata.size)) or 0) + 1
    sector = otadata.offset + (seq % 2) * _SECTOR
    flash.erase(sector, _SECTOR)
    flash.write(sector, _ENTRY.pack(seq, b"\xff" * 20, _STATE_UNDEFINED, _crc(seq)))
    running = app_version(image) or version
    con.info("esp_ota_ops", f"next boot partition: '{slot.name}' (otadata sequence {seq}), version {running}")


def software_reset_text(ctx: RunContext) -> str:
    """The reset reason the ROM prints after `esp_restart()`, in this chip's words."""
    return "0xc (SW_CPU_RESET)" if ctx.chip.value == "esp32" else "0xc (RTC_SW_CPU_RST)"


def _crc(seq: int) -> int:
    return zlib.crc32(struct.pack("<I", seq), 0xFFFFFFFF) & 0xFFFFFFFF
