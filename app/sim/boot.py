"""Normal boot from flash: the ROM's checks of the bootloader, then the second-stage bootloader's.

ROM: reads the image at the chip's bootloader offset (magic, chip id, checksum, SHA-256) and, when
secure boot is enabled in the real eFuses, verifies its Secure Boot V2 signature against the key digests
there. Second stage (the simulation bootloader): reads the partition table at 0x8000, loads the factory
app with the same image checks, and verifies the app's signature. On a board whose eFuses are still blank
it first verifies itself and the app with the key that signed the bootloader, then burns that key's
digest and enables secure boot: permanently in the real eFuses for a release build, in the flash
`efuse_em` partition for a veFuse (dev) build. A dev build also performs the ROM's bootloader check
against its virtual eFuses, so a tampered image is refused in both modes.

Any failure prints what ESP-IDF would print and halts the board until the next reset (a real board
would reset and fail the same way in a loop). The `boot_failure` fault knob instead plays one named
failure the way a real board does, loop included (`_play_failure`, `_app_failure`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from app.domain.chips import PARTITION_TABLE_OFFSET
from app.domain.kinds import BootloaderKind, IefKind, ImageKind
from app.sim import partition_table as pt
from app.sim.console import Console
from app.sim.efuses import EfuseState, decode_virtual, encode_virtual
from app.sim.esp_image import EspImage, ImageError, read_image
from app.sim.faults import BootFailure, Stage
from app.sim.images import SIM_APP_VERSION, SIM_IDF_VERSION, app_version, describe_sim_image
from app.sim.ota import selected_sequence
from app.sim.run_context import BootMode, Restart, RunContext
from app.sim.secure_boot import SignatureCheck, first_valid, signature_blocks, verify_against_digests

ROM_BAUD = 115200
_FLASH_MODES = {0: "QIO", 1: "QOUT", 2: "DIO", 3: "DOUT"}
_TYPE_NAMES = {
    (0, 0): "factory app",
    (0, 0x10): "OTA app",
    (1, 0): "OTA data",
    (1, 1): "RF data",
    (1, 2): "WiFi data",
    (1, 5): "efuse",
}


@dataclass(frozen=True)
class BootedApp:
    """The app the bootloader started: which IEF behaviour, the version in its app description, and the
    partition it runs from (`factory`, or `ota_0` after a firmware update)."""

    kind: IefKind
    version: str
    partition: str


def boot_from_flash(ctx: RunContext, reset_text: str | None = None) -> BootedApp:
    """Run the boot chain; return the app to run, or halt on any failure."""
    ctx.uart.board_baud = ROM_BAUD  # a reset puts the UART back at the ROM's rate
    ctx.stage(Stage.BOOT)
    con = Console(ctx)
    flash = ctx.state.flash
    failure = ctx.faults.boot_failure
    if failure is BootFailure.SILENT:
        ctx.halt()
    if failure is BootFailure.DOWNLOAD_MODE:
        raise Restart(BootMode.DOWNLOAD, reset_text or ctx.rom.reset_text)
    con.raw(ctx.rom.banner(download=False, reset_text=reset_text).encode())
    if failure is not None and failure not in (BootFailure.BROWNOUT, BootFailure.PANIC):
        _play_failure(ctx, con, failure)
    con.raw(b"SPIWP:0xee\r\nmode:DIO, clock div:1\r\n")
    bl_offset = ctx.chip.bootloader_offset
    bl_region = flash.read(bl_offset, PARTITION_TABLE_OFFSET - bl_offset)
    bl_image = _rom_check_bootloader(ctx, con, bl_region)
    for segment in bl_image.segments:
        con.line(f"load:0x{segment.load_addr:08x},len:0x{len(segment.data):x}")
    con.line(f"entry 0x{bl_image.entry:08x}")
    marker = describe_sim_image(bl_region)
    if marker is None or marker.kind is not ImageKind.BOOTLOADER or marker.chip is not ctx.chip:
        con.line("sim: the bootloader is not a simulation image for this chip; the virtual board stops here")
        ctx.halt()
    assert marker is not None
    kind = _second_stage(ctx, con, BootloaderKind(marker.variant), bl_region, bl_image)
    if failure in (BootFailure.BROWNOUT, BootFailure.PANIC):
        _app_failure(ctx, con, failure)
    return kind


LOOP_PAUSE = 0.2
"""How long a failing virtual board takes before it resets itself (real ones: up to the watchdog's time)."""

_RESET_TEXTS = {
    # ESP32 ROM names, then the names the ESP32-C3/S2/S3 ROMs print for the same causes
    "rtc_wdt": ("0x10 (RTCWDT_RTC_RESET)", "0x10 (RTCWDT_RTC_RST)"),
    "sw": ("0x3 (SW_RESET)", "0x3 (RTC_SW_SYS_RST)"),
    "sw_cpu": ("0xc (SW_CPU_RESET)", "0xc (RTC_SW_CPU_RST)"),
    "brownout": ("0xf (RTCWDT_BROWN_OUT_RESET)", "0xf (BROWN_OUT_RST)"),
}


def _reset_text(ctx: RunContext, cause: str) -> str:
    esp32, others = _RESET_TEXTS[cause]
    return esp32 if ctx.chip.value == "esp32" else others


def _play_failure(ctx: RunContext, con: Console, failure: BootFailure) -> NoReturn:
    """The ROM/bootloader part of a knob's failure, as the real chips print it; then the reset."""
    cause = "rtc_wdt"
    if failure is BootFailure.INVALID_HEADER:
        for _ in range(8):
            con.line("invalid header: 0xffffffff")
            ctx.sleep(LOOP_PAUSE / 8)
    elif failure is BootFailure.FLASH_READ:
        con.line("flash read err, 1000")
        con.line("ets_main.c 371 ")
    else:
        con.raw(b"SPIWP:0xee\r\nmode:DIO, clock div:1\r\n")
        con.line("load:0x3fff0030,len:6664")
        con.line("entry 0x40080694")
        con.info("boot", f"ESP-IDF {SIM_IDF_VERSION} 2nd stage bootloader")
        if failure is BootFailure.SECURE_BOOT:
            con.info("boot", f"Loaded app from partition at offset {0x10000:#x}")
            con.error("esp_image", "Secure boot signature verification failed")
            con.info("esp_image", "Calculating simple hash to check for corruption...")
            con.warn("esp_image", "image valid, signature bad")
            con.error("boot", "Factory app partition is not bootable")
            con.error("boot", "No bootable app partitions in the partition table")
            cause = "sw"
        # WATCHDOG: the bootloader hangs here until the RTC watchdog resets the chip
    ctx.sleep(LOOP_PAUSE)
    raise Restart(BootMode.FLASH, _reset_text(ctx, cause))


def _app_failure(ctx: RunContext, con: Console, failure: BootFailure) -> NoReturn:
    """The app starts, then browns out or panics, and the chip resets."""
    con.info("cpu_start", "Pro cpu start user code")
    con.info("app_init", "Application information:")
    if failure is BootFailure.BROWNOUT:
        con.raw(b"\r\nBrownout detector was triggered\r\n\r\n")
        cause = "brownout"
    else:
        con.line("Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.")
        con.line("")
        con.line("Core  0 register dump:")
        con.line("PC      : 0x400d2a3c  PS      : 0x00060730  A0      : 0x800d6f0c  A1      : 0x3ffb5670  ")
        con.line("")
        con.line("Backtrace: 0x400d2a39:0x3ffb5670 0x400d6f09:0x3ffb5690")
        con.line("")
        con.line("Rebooting...")
        cause = "sw_cpu"
    ctx.sleep(LOOP_PAUSE)
    raise Restart(BootMode.FLASH, _reset_text(ctx, cause))


def _rom_check_bootloader(ctx: RunContext, con: Console, region: bytes) -> EspImage:
    try:
        image = read_image(region, 0, len(region))
    except ImageError as exc:
        con.line(exc.rom_text)
        con.line("ets_main.c 371 ")
        ctx.halt()
        raise  # unreachable: halt() only ends by interruption
    if image.chip_id != ctx.chip.profile.image_chip_id:
        con.line(
            f"invalid chip id {image.chip_id} in bootloader image "
            f"(this chip is {ctx.chip.profile.image_chip_id})"
        )
        ctx.halt()
    real = ctx.state.efuses.state
    if real.secure_boot_en:
        checks = signature_blocks(region, image.signed_length)
        if verify_against_digests(checks, list(real.key_digests)) is None:
            con.line("secure boot check fail")
            con.line("ets_main.c 333 ")
            ctx.halt()
    return image


def _second_stage(
    ctx: RunContext, con: Console, kind: BootloaderKind, bl_region: bytes, bl_image: EspImage
) -> BootedApp:
    rev = ctx.rom.revision
    con.info("boot", f"ESP-IDF {SIM_IDF_VERSION} 2nd stage bootloader")
    con.info("boot", "compile time Jan  1 2025 00:00:00")
    con.info("boot", f"chip revision: v{rev.major}.{rev.minor}")
    tag = f"boot.{ctx.chip.value}"
    con.info(tag, "SPI Speed      : 40MHz")
    con.info(tag, f"SPI Mode       : {_FLASH_MODES.get(bl_image.flash_mode, 'DIO')}")
    con.info(tag, "SPI Flash Size : 4MB")
    con.info("boot", "Enabling RNG early entropy source...")
    parts = _partition_table(ctx, con)
    virtual = kind is BootloaderKind.DEV
    efuse_em = pt.find_partition(parts, pt.TYPE_DATA, pt.SUBTYPE_EFUSE)
    if virtual:
        if efuse_em is None:
            con.error("efuse", "[Virtual] The efuse_em partition is not found; virtual eFuses need one")
            ctx.halt()
        assert efuse_em is not None
        con.warn("efuse", "[Virtual] Loading virtual efuse blocks from flash")
        efuses = decode_virtual(ctx.state.flash.read(efuse_em.offset, efuse_em.size))
        if efuses.secure_boot_en:
            checks = signature_blocks(bl_region, bl_image.signed_length)
            if verify_against_digests(checks, list(efuses.key_digests)) is None:
                con.error(
                    "secure_boot_v2", "[Virtual] bootloader signature does not match the eFuse key digest"
                )
                con.error("boot", "Bootloader secure boot check failed")
                ctx.halt()
    else:
        efuses = ctx.state.efuses.state
    factory = pt.find_partition(parts, pt.TYPE_APP, pt.SUBTYPE_FACTORY)
    if factory is None:
        con.error("boot", "No bootable app partitions in the partition table")
        ctx.halt()
    assert factory is not None
    booted = _selected_app(ctx, con, parts, factory)
    app_region = ctx.state.flash.read(booted.offset, booted.size)
    app = _load_app(ctx, con, app_region, booted.offset)
    app_checks = signature_blocks(app_region, app.signed_length)
    if efuses.secure_boot_en:
        if verify_against_digests(app_checks, list(efuses.key_digests)) is None:
            _refuse_app(ctx, con, "Secure Boot V2 verification failed.")
        con.info("secure_boot_v2", "Verifying with RSA-PSS...")
        con.info("secure_boot_v2", "Signature verified successfully!")
    else:
        _first_boot(ctx, con, efuses, virtual, bl_region, bl_image, app_checks, efuse_em)
    con.info("boot", f"Loaded app from partition at offset {booted.offset:#x}")
    con.info("boot", "Disabling RNG early entropy source...")
    marker = describe_sim_image(app_region)
    if marker is None or marker.kind is not ImageKind.IEF or marker.chip is not ctx.chip:
        con.line("sim: the app is not a simulation image for this chip; the virtual board stops here")
        ctx.halt()
    assert marker is not None
    return BootedApp(IefKind(marker.variant), app_version(app_region) or SIM_APP_VERSION, booted.name)


def _selected_app(
    ctx: RunContext, con: Console, parts: tuple[pt.Partition, ...], factory: pt.Partition
) -> pt.Partition:
    """`ota_0` when `otadata` selects it (a firmware update was written), else the factory app."""
    otadata = pt.find_partition(parts, pt.TYPE_DATA, pt.SUBTYPE_OTADATA)
    slot = pt.find_partition(parts, pt.TYPE_APP, pt.SUBTYPE_OTA_0)
    if otadata is None or slot is None:
        return factory
    sequence = selected_sequence(ctx.state.flash.read(otadata.offset, otadata.size))
    if sequence is None:
        return factory
    con.info("boot", f"otadata: sequence {sequence} selects partition '{slot.name}' at {slot.offset:#x}")
    return slot


def _partition_table(ctx: RunContext, con: Console) -> tuple[pt.Partition, ...]:
    try:
        parts = pt.parse_partition_table(ctx.state.flash.read(PARTITION_TABLE_OFFSET, pt.TABLE_AREA_SIZE))
    except pt.PartitionTableError as exc:
        con.error("flash_parts", str(exc))
        con.error("boot", "load partition table error!")
        ctx.halt()
        raise
    con.info("boot", "Partition Table:")
    con.info("boot", "## Label            Usage          Type ST Offset   Length")
    for index, p in enumerate(parts):
        usage = _TYPE_NAMES.get((p.type, p.subtype), "unknown")
        con.info(
            "boot",
            f"{index:2} {p.name:<16} {usage:<14} {p.type:02x} {p.subtype:02x} {p.offset:08x} {p.size:08x}",
        )
    con.info("boot", "End of partition table")
    return parts


def _load_app(ctx: RunContext, con: Console, region: bytes, offset: int) -> EspImage:
    try:
        app = read_image(region, 0, len(region))
    except ImageError as exc:
        if exc.rom_text.startswith("invalid header"):
            _refuse_app(ctx, con, f"image at {offset:#x} has invalid magic byte (nothing flashed here?)")
        _refuse_app(ctx, con, exc.rom_text)
        raise
    if app.chip_id != ctx.chip.profile.image_chip_id:
        con.error(
            "boot_comm", f"mismatch chip ID, expected {ctx.chip.profile.image_chip_id}, found {app.chip_id}"
        )
        _refuse_app(ctx, con, "")
    for index, seg in enumerate(app.segments):
        con.info(
            "esp_image",
            f"segment {index}: paddr={offset + seg.file_offset:08x} vaddr={seg.load_addr:08x} "
            f"size={len(seg.data):05x}h ({len(seg.data):6d})",
        )
    return app


def _refuse_app(ctx: RunContext, con: Console, reason: str) -> None:
    if reason:
        con.error("esp_image", reason)
    con.error("boot", "Factory app partition is not bootable")
    con.error("boot", "No bootable app partitions in the partition table")
    ctx.halt()


def _first_boot(
    ctx: RunContext,
    con: Console,
    efuses: EfuseState,
    virtual: bool,
    bl_region: bytes,
    bl_image: EspImage,
    app_checks: list[SignatureCheck],
    efuse_em: pt.Partition | None,
) -> None:
    """Blank eFuses: enable secure boot with the key that signed this bootloader."""
    prefix = "[Virtual] " if virtual else ""
    con.info("secure_boot_v2", f"{prefix}Secure boot V2 is not enabled yet and eFuse digest keys are not set")
    own = first_valid(signature_blocks(bl_region, bl_image.signed_length))
    if own is None:
        con.error("secure_boot_v2", "bootloader image is not signed; secure boot cannot be enabled")
        con.error("boot", "Bootloader secure boot setup failed")
        ctx.halt()
    assert own is not None
    if verify_against_digests(app_checks, [own.key_digest]) is None:
        _refuse_app(ctx, con, "Secure Boot V2 verification failed: app not signed by the bootloader's key")
    con.info("secure_boot_v2", f"{prefix}Burning public key hash to eFuse")
    burned = efuses.with_secure_boot(ctx.chip, own.key_digest)
    if virtual:
        assert efuse_em is not None
        blob = encode_virtual(burned)
        ctx.state.flash.erase(efuse_em.offset, len(blob))
        ctx.state.flash.write(efuse_em.offset, blob)
        con.info("efuse", f"[Virtual] Writing virtual efuse blocks to flash at {efuse_em.offset:#x}")
        con.info("secure_boot_v2", "[Virtual] Secure boot enabled in virtual eFuses")
    else:
        ctx.state.efuses.burn(burned)
        con.info("secure_boot_v2", "Secure boot permanently enabled")
    con.info("secure_boot_v2", "Verifying with RSA-PSS...")
    con.info("secure_boot_v2", "Signature verified successfully!")
