"""Serial download mode: the ROM loader, and the flasher stub once esptool has uploaded and started it.

Requests are SLIP frames `00 op len(u16) chk(u32) data`; every answer is `01 op len(u16) value(u32)
data status`, where the ROM's status is 4 bytes and the stub's 2 (esptool reads them differently).
In secure download mode (the ENABLE_SECURITY_DOWNLOAD eFuse, chips that answer GET_SECURITY_INFO) the
ROM answers only the commands that write flash blindly, and refuses the rest (register and flash reads,
MD5, RAM code, so no stub) with "invalid message", as the real ROM does.
The stub cannot really run on a virtual board, so the board keeps what esptool uploads with MEM_BEGIN/DATA
and, when MEM_END jumps to it, checks it is byte for byte the stub esptool ships for this chip
(app/sim/stub_image.py). Only then does it answer "OHAI" and speak the stub's command set (2-byte status,
raw MD5, streamed reads, erase commands, sector-by-sector erase). Anything else in RAM is what a real chip
would crash on: the board goes silent until it is reset, and esptool reports that the stub did not start.
"""

from __future__ import annotations

import logging
import struct
from collections import deque

from app.domain.chips import ChipType
from app.sim import flash_commands as fc
from app.sim.chip_model import SecurityInfo
from app.sim.faults import Stage
from app.sim.run_context import BootMode, Restart, RunContext
from app.sim.slip import END as SLIP_END
from app.sim.slip import SlipDecoder, encode
from app.sim.stub_image import identify_stub

_log = logging.getLogger(__name__)

OP_FLASH_BEGIN = 0x02
OP_FLASH_DATA = 0x03
OP_FLASH_END = 0x04
OP_MEM_BEGIN = 0x05
OP_MEM_END = 0x06
OP_MEM_DATA = 0x07
OP_SYNC = 0x08
OP_WRITE_REG = 0x09
OP_READ_REG = 0x0A
OP_SPI_SET_PARAMS = 0x0B
OP_SPI_ATTACH = 0x0D
OP_READ_FLASH_SLOW = 0x0E
OP_CHANGE_BAUDRATE = 0x0F
OP_FLASH_DEFL_BEGIN = 0x10
OP_FLASH_DEFL_DATA = 0x11
OP_FLASH_DEFL_END = 0x12
OP_SPI_FLASH_MD5 = 0x13
OP_GET_SECURITY_INFO = 0x14
OP_ERASE_FLASH = 0xD0
OP_ERASE_REGION = 0xD1
OP_READ_FLASH = 0xD2
OP_RUN_USER_CODE = 0xD3

SYNC_PAYLOAD = b"\x07\x07\x12\x20" + b"\x55" * 32
ROM_SYNC_VALUE = 0x20120707
SPI_CMD_USR = 1 << 18
JEDEC_ID_4MB = 0x164020  # XMC XM25QH32C, 4 MiB (esptool then skips its XMC start-up probing)
# Start of the flash's SFDP table: "SFDP", revision 1.6, one parameter header (JEDEC basic table).
SFDP_TABLE = b"SFDP\x06\x01\x00\xff\x00\x06\x01\x10\x30\x00\x00\xff" + b"\xff" * 16
SECURITY_API_VERSION = 3
# ESP32-S3 with secure boot on cannot jump to RAM code from MEM_END (a ROM bug); esptool instead points the
# ROM's flash-read function (this pointer) at the stub and sends READ_FLASH_SLOW to trigger the jump.
S3_ROM_READ_POINTER = 0x3FCEF688
STUB_HELLO = b"OHAI"
SECURE_DOWNLOAD_FLAG = 1 << 2
# What the ROM still accepts in secure download mode.
SECURE_DOWNLOAD_OPS = frozenset(
    {
        OP_SYNC,
        OP_GET_SECURITY_INFO,
        OP_CHANGE_BAUDRATE,
        OP_SPI_SET_PARAMS,
        OP_SPI_ATTACH,
        OP_FLASH_BEGIN,
        OP_FLASH_DATA,
        OP_FLASH_END,
        OP_FLASH_DEFL_BEGIN,
        OP_FLASH_DEFL_DATA,
        OP_FLASH_DEFL_END,
    }
)


class DownloadMode:
    """One run of download mode, from the ROM banner until the next reset."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.stub = False
        self._decoder = SlipDecoder()
        self._packets: deque[bytes] = deque()
        self._regs = ctx.rom.registers(ctx.state.efuses.state, ctx.state.identity.mac)
        self._write: fc.WriteSession | None = None
        self._synced = False
        self._seen_flash_data = False
        self._ram: dict[int, bytearray] = {}  # uploaded segments by load address
        self._mem_segment: tuple[int, int] | None = None  # load address, block size of the current upload
        self._mem_entry: int | None = None  # MEM_END's entry point, once it asks to run code
        self.stub_version: str | None = None
        efuses = ctx.state.efuses.state
        self._secure_download = efuses.secure_download and ctx.rom.security_info is not SecurityInfo.NONE

    def run(self) -> None:
        self.ctx.uart.board_baud = None  # the ROM auto-detects the host's baud rate
        self.ctx.write(self.ctx.rom.banner(download=True).encode())
        while True:
            self._handle(self._next_packet(None))

    # ------------------------------------------------------------- framing
    def _next_packet(self, timeout: float | None) -> bytes:
        while not self._packets:
            data = self.ctx.read(65536, timeout, until=SLIP_END)
            if not data:
                return b""
            self._packets.extend(self._decoder.feed(data))
        return self._packets.popleft()

    def _reply(self, op: int, value: int = 0, payload: bytes = b"", error: int = 0) -> None:
        status = bytes([1 if error else 0, error])
        if not self.stub:
            status += b"\x00\x00"
        body = payload + status
        self.ctx.write(encode(struct.pack("<BBHI", 1, op, len(body), value) + body))

    # ------------------------------------------------------------- dispatch
    def _handle(self, packet: bytes) -> None:
        if len(packet) < 8 or packet[0] != 0:
            return
        op, _size, chk = struct.unpack_from("<xBHI", packet)
        data = packet[8:]
        if op == OP_SYNC:
            self._sync(data)
            return
        if not self._synced and not self.stub:
            return  # the ROM ignores everything until it has synchronised
        if self._secure_download and op not in SECURE_DOWNLOAD_OPS:
            self._reply(op, error=fc.ROM_INVALID_MESSAGE)
            return
        try:
            result = self._dispatch(op, data, chk)
        except fc.CommandError as exc:
            self._reply(op, error=exc.code)
            return
        if result is None:
            return  # the handler answered itself
        value, payload = result
        self._reply(op, value, payload)
        self._after(op, data)

    def _dispatch(self, op: int, data: bytes, chk: int) -> tuple[int, bytes] | None:
        flash = self.ctx.state.flash
        if op == OP_READ_REG:
            return self._read_reg(struct.unpack_from("<I", data)[0] if len(data) >= 4 else 0), b""
        if op == OP_WRITE_REG:
            self._write_regs(data)
            return 0, b""
        if op in (OP_SPI_SET_PARAMS, OP_SPI_ATTACH):
            return 0, b""
        if op == OP_CHANGE_BAUDRATE:
            self.ctx.stage(Stage.CHANGE_BAUD)
            return 0, b""
        if op == OP_GET_SECURITY_INFO:
            return 0, self._security_info()
        if op in (OP_MEM_BEGIN, OP_MEM_DATA, OP_MEM_END):
            return self._mem(op, data, chk)
        if op in (OP_FLASH_BEGIN, OP_FLASH_DEFL_BEGIN):
            self.ctx.stage(Stage.FLASH_BEGIN)
            self._write = fc.WriteSession.begin(flash, data, self.stub, deflate=op == OP_FLASH_DEFL_BEGIN)
            self._seen_flash_data = False
            return 0, b""
        if op in (OP_FLASH_DATA, OP_FLASH_DEFL_DATA):
            if self._write is None or self._write.deflate != (op == OP_FLASH_DEFL_DATA):
                raise fc.CommandError(fc.STUB_NOT_IN_FLASH_MODE if self.stub else fc.ROM_FAILED_TO_ACT)
            if not self._seen_flash_data:
                self._seen_flash_data = True
                self.ctx.stage(Stage.FLASH_DATA)
            self._write.data(data, chk)
            return 0, b""
        if op in (OP_FLASH_END, OP_FLASH_DEFL_END):
            self.ctx.stage(Stage.FLASH_END)
            self._write = None
            return 0, b""
        if op == OP_SPI_FLASH_MD5:
            self.ctx.stage(Stage.MD5)
            return 0, fc.md5_command(flash, data, self.stub)
        if not self.stub:
            if op == OP_READ_FLASH_SLOW:
                hooked = self._regs.get(S3_ROM_READ_POINTER)
                if hooked and self.ctx.rom.chip is ChipType.ESP32S3:
                    self._run_ram_code(hooked)  # the hijacked read function is the stub's entry point
                    return None
                return 0, fc.read_slow(flash, data)
            raise fc.CommandError(fc.ROM_INVALID_MESSAGE)
        return self._stub_only(op, data)

    def _stub_only(self, op: int, data: bytes) -> tuple[int, bytes] | None:
        flash = self.ctx.state.flash
        if op == OP_ERASE_FLASH:
            self.ctx.stage(Stage.ERASE)
            flash.erase_all()
            return 0, b""
        if op == OP_ERASE_REGION:
            self.ctx.stage(Stage.ERASE)
            fc.erase_region(flash, data)
            return 0, b""
        if op == OP_READ_FLASH:
            self._read_flash(data)
            return None
        if op == OP_RUN_USER_CODE:
            raise Restart(BootMode.FLASH, "0xc (RTC_SW_CPU_RST)")
        raise fc.CommandError(fc.STUB_INVALID_COMMAND)

    def _after(self, op: int, data: bytes) -> None:
        """What happens once the answer has gone out: baud switch, stub start, leaving the loader."""
        if op == OP_CHANGE_BAUDRATE and len(data) >= 4:
            self.ctx.uart.board_baud = struct.unpack_from("<I", data)[0]
        elif op == OP_MEM_END and self._mem_entry is not None and not self.stub:
            self._run_ram_code(self._mem_entry)
        elif op in (OP_FLASH_END, OP_FLASH_DEFL_END) and len(data) >= 4:
            stay = struct.unpack_from("<I", data)[0] != 0
            if self.stub and not stay:
                raise Restart(BootMode.DOWNLOAD, "0xc (RTC_SW_CPU_RST)")
            if not self.stub:
                raise Restart(BootMode.FLASH, "0xc (RTC_SW_CPU_RST)")

    def _run_ram_code(self, entry: int) -> None:
        """Jump to the uploaded code: the stub if it is esptool's, else a crash (silence until reset)."""
        ram = {addr: bytes(data) for addr, data in self._ram.items()}
        image = identify_stub(self.ctx.rom.chip, ram, entry)
        if image is None:
            _log.warning(
                "%s: the code uploaded to RAM (entry %#x) is not esptool's flasher stub; the chip stops",
                self.ctx.rom.chip.value,
                entry,
            )
            self.ctx.halt()
        self.stub = True
        self.stub_version = image.version if image is not None else None
        self._regs.pop(S3_ROM_READ_POINTER, None)
        self.ctx.write(encode(STUB_HELLO))
        self.ctx.stage(Stage.STUB)

    # ------------------------------------------------------------- commands
    def _sync(self, data: bytes) -> None:
        if data[: len(SYNC_PAYLOAD)] != SYNC_PAYLOAD:
            return
        if self.stub:
            self._reply(OP_SYNC, 0)
            return
        if not self._synced:
            self._synced = True
            self.ctx.uart.board_baud = self.ctx.uart.host_baud
            self.ctx.stage(Stage.SYNC)
        for _ in range(8):
            self._reply(OP_SYNC, ROM_SYNC_VALUE)

    def _read_reg(self, addr: int) -> int:
        if addr == self.ctx.rom.uart_clkdiv_reg:
            baud = self.ctx.uart.board_baud or self.ctx.uart.host_baud
            return int(40_000_000 / baud) & 0xFFFFF
        return self._regs.get(addr, 0)

    def _write_regs(self, data: bytes) -> None:
        if len(data) % 16 or not data:
            raise fc.CommandError(fc.STUB_BAD_DATA_LEN if self.stub else fc.ROM_INVALID_MESSAGE)
        for pos in range(0, len(data), 16):
            addr, value, mask, _delay = struct.unpack_from("<IIII", data, pos)
            self._regs[addr] = (self._regs.get(addr, 0) & ~mask) | (value & mask)
            if addr == self.ctx.rom.spi_base and value & SPI_CMD_USR:
                self._run_spi_command()

    def _run_spi_command(self) -> None:
        """esptool's run_spiflash_command: the command byte is in USR2, the answer goes to W0."""
        rom = self.ctx.rom
        command = self._regs.get(rom.spi_base + rom.spi_usr2_offs, 0) & 0xFF
        answer = 0
        if command == 0x9F:  # RDID
            answer = JEDEC_ID_4MB
        elif command == 0x5A:  # RDSFDP, 24-bit address
            addr = self._regs.get(rom.spi_base + 4, 0)
            addr = (addr >> 8 if rom.spi_addr_msb else addr) & 0xFFFFFF
            answer = int.from_bytes(SFDP_TABLE[addr : addr + 4].ljust(4, b"\xff"), "little")
        self._regs[rom.spi_base + rom.spi_w0_offs] = answer
        self._regs[rom.spi_base] = 0  # done

    def _security_info(self) -> bytes:
        kind = self.ctx.rom.security_info
        if kind is SecurityInfo.NONE:
            raise fc.CommandError(fc.STUB_INVALID_COMMAND if self.stub else fc.ROM_INVALID_MESSAGE)
        efuses = self.ctx.state.efuses.state
        flags = (1 if efuses.secure_boot_en else 0) | (0xC0 if efuses.jtag_disabled else 0)
        flags |= (1 << 9) if efuses.download_dcache_disabled else 0
        flags |= SECURE_DOWNLOAD_FLAG if self._secure_download else 0
        body = struct.pack("<IB7B", flags, efuses.flash_crypt_cnt, *efuses.key_purposes(), 0)
        if kind is SecurityInfo.FULL:
            body += struct.pack("<II", self.ctx.rom.chip.profile.image_chip_id, SECURITY_API_VERSION)
        return body

    def _mem(self, op: int, data: bytes, chk: int) -> tuple[int, bytes]:
        """MEM_BEGIN(size, blocks, block size, address), MEM_DATA(len, seq) + bytes, MEM_END(entry)."""
        bad = fc.STUB_BAD_DATA_LEN if self.stub else fc.ROM_INVALID_MESSAGE
        if op == OP_MEM_BEGIN:
            if len(data) < 16:
                raise fc.CommandError(bad)
            size, _blocks, block_size, addr = struct.unpack_from("<IIII", data)
            self._ram[addr] = bytearray(size)
            self._mem_segment = (addr, block_size)
            self._mem_entry = None
        elif op == OP_MEM_DATA:
            if len(data) < 16 or struct.unpack_from("<I", data)[0] != len(data) - 16:
                raise fc.CommandError(bad)
            if fc.checksum(data[16:]) != chk:
                raise fc.CommandError(fc.STUB_BAD_CHECKSUM if self.stub else fc.ROM_BAD_CHECKSUM)
            if self._mem_segment is None:
                raise fc.CommandError(fc.STUB_NOT_IN_FLASH_MODE if self.stub else fc.ROM_FAILED_TO_ACT)
            addr, block_size = self._mem_segment
            seq = struct.unpack_from("<I", data, 4)[0]
            segment, start = self._ram[addr], seq * block_size
            block = data[16:]
            if start + len(block) > len(segment):
                raise fc.CommandError(fc.STUB_TOO_MUCH_DATA if self.stub else fc.ROM_FAILED_TO_ACT)
            segment[start : start + len(block)] = block
        else:
            if len(data) < 8:
                raise fc.CommandError(bad)
            no_entry, entry = struct.unpack_from("<II", data)
            self._mem_segment = None
            self._mem_entry = entry if not no_entry and entry != 0 else None
        return 0, b""

    def _read_flash(self, data: bytes) -> None:
        """Stub READ_FLASH: answer, then stream packets, at most `in_flight` unacknowledged."""
        if len(data) < 16:
            raise fc.CommandError(fc.STUB_BAD_DATA_LEN)
        offset, length, packet_size, in_flight = struct.unpack_from("<IIII", data)
        flash = self.ctx.state.flash
        if offset + length > flash.size or packet_size == 0 or in_flight == 0:
            raise fc.CommandError(fc.STUB_BAD_DATA_LEN)
        self._reply(OP_READ_FLASH)
        self.ctx.stage(Stage.READ_FLASH)
        sent = acked = 0
        while acked < length:
            if sent < length and (sent - acked) < packet_size * in_flight:
                chunk = flash.read(offset + sent, min(packet_size, length - sent))
                self.ctx.write(encode(chunk))
                sent += len(chunk)
                continue
            ack = self._next_packet(None)
            if len(ack) == 4:
                acked = max(acked, struct.unpack("<I", ack)[0])
        self.ctx.write(encode(flash.md5(offset, length)))
