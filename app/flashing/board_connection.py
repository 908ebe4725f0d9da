"""One board in ROM download mode, driven through esptool as a library.

Connect (real port or pyserial URL), identify the chip, read its MAC and security state, run the
stub, raise the baud, write images at their offsets (esptool MD5-verifies each), hard-reset. Every
esptool/pyserial failure becomes a typed FlashError that says what happened and what to do; esptool's
console output becomes FlashLog events and its progress FlashProgress events (per image and overall).
We open the serial port ourselves and hand esptool the open object, so the port is always closed
here, whatever esptool raised.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import Any

import serial

from app.domain.chips import ChipType
from app.domain.errors import StationError, ValidationError
from app.domain.records import FlashImage
from app.flashing.chip_security import ChipSecurityState, read_security_state
from app.flashing.efuse_reads import remember_efuse_reads
from app.flashing.esptool_runtime import DEFLATED, EVENT_LOGGER, FatalError, cmds
from app.flashing.flash_diff import WritePlan, can_compare, full_write, plan_write
from app.flashing.flash_errors import (
    BoardNotFoundError,
    BoardNotRespondingError,
    BoardVanishedError,
    FlashCancelledError,
    FlashError,
    FlashTimeoutError,
    VerifyError,
)
from app.flashing.flash_events import EventSink, FlashEvent, FlashLog, FlashProgress, LogLevel, discard

ROM_BAUD = 115200
_VERIFIED_LINE = "Hash of data verified."
_SILENCE_MARKERS = ("No serial data received", "Timed out waiting for packet", "Serial data stream stopped")


class ResetMode(Enum):
    """How to get the chip into download mode before connecting (esptool's `--before`)."""

    DEFAULT = "default-reset"
    USB = "usb-reset"
    NO_RESET = "no-reset"


@dataclass(frozen=True)
class ChipIdentity:
    """What the board says it is. `chip` is None for a family the station does not provision."""

    chip: ChipType | None
    name: str
    description: str
    mac: str
    security: ChipSecurityState | None


@dataclass(frozen=True)
class WriteResult:
    """Per image, whether its flash MD5 was confirmed (a ROM without MD5 support cannot), and what was
    written of it."""

    verified: tuple[bool, ...]
    plans: tuple[WritePlan, ...] = ()

    @property
    def sectors_written(self) -> int:
        return sum(plan.changed_sectors for plan in self.plans)


class BoardConnection:
    """An open download-mode session with one board. Use as a context manager; always closes its port."""

    def __init__(self, esp: Any, port: Any, url: str, sink: EventSink) -> None:
        self._port = port
        self.url = url
        self._sink = sink
        self._efuse_words: dict[int, int] = {}  # shared by the ROM loader and the stub that follows it
        self._esp = self._remembering(esp)

    @classmethod
    def open(
        cls,
        url: str,
        *,
        baud: int = ROM_BAUD,
        reset: ResetMode = ResetMode.DEFAULT,
        attempts: int = 3,
        sink: EventSink = discard,
    ) -> BoardConnection:
        """Open `url` and sync with the ROM bootloader (detecting the chip). Raises FlashError subtypes."""
        port = _open_port(url)
        try:
            with EVENT_LOGGER.routed(sink), _translated("connecting", url, connecting=True):
                esp = cmds.detect_chip(port, baud, reset.value, False, attempts)
        except BaseException:
            port.close()
            raise
        return cls(esp, port, url, sink)

    def __enter__(self) -> BoardConnection:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._port is None:
            return
        with suppress(OSError, serial.SerialException):
            self._port.close()

    @property
    def is_open(self) -> bool:
        """False once closed (or handed over)."""
        return self._port is not None and bool(getattr(self._port, "is_open", False))

    def hand_over_uart(self, baud: int = ROM_BAUD) -> Any:
        """Give the open port (set to `baud`, the IEF's 115200) to the caller, who must close it.

        For what follows download mode on the same connection: the caller resets the board into its
        firmware on this port (or has called `hard_reset()`), and keeping the port open across the reset
        means none of the firmware's first lines are lost. The connection is unusable afterwards.
        """
        port, self._port = self._port, None
        with _translated("switching the port to the firmware's baud rate", self.url):
            port.baudrate = baud
        return port

    @property
    def is_stub(self) -> bool:
        return bool(self._esp.IS_STUB)

    @property
    def loader(self) -> Any:
        """The esptool loader, for callers that need a call this class does not wrap (the lab bench's
        reads and espefuse). Use it inside `step()`, so its failures become typed FlashErrors."""
        return self._esp

    def step(self, what: str) -> AbstractContextManager[None]:
        """esptool calls made for `what`, with this connection's log routing and error translation."""
        return self._step(what)

    @contextmanager
    def _step(self, what: str, progress: Callable[[int, int], None] | None = None) -> Iterator[None]:
        with EVENT_LOGGER.routed(self._sink, progress), _translated(what, self.url):
            yield

    def identify(self) -> ChipIdentity:
        """Chip family, description, MAC and (for chips we provision) security state."""
        with self._step("identifying the chip"):
            name = str(self._esp.CHIP_NAME)
            chip = _chip_type(name)
            description = str(self._esp.get_chip_description())
            mac = ":".join(f"{b:02x}" for b in self._esp.read_mac())
            security = read_security_state(self._esp, chip) if chip is not None else None
        return ChipIdentity(chip, name, description, mac, security)

    def run_stub(self) -> None:
        """Upload and start esptool's flasher stub: faster writes, compression and MD5 on every chip."""
        with self._step("starting the flasher stub"):
            self._esp = self._remembering(cmds.run_stub(self._esp))

    def _remembering(self, esp: Any) -> Any:
        remember_efuse_reads(esp, _chip_type(str(esp.CHIP_NAME)), self._efuse_words)
        return esp

    def change_baud(self, baud: int) -> None:
        with self._step(f"changing the baud rate to {baud}"):
            self._esp.change_baud(baud)

    def write_images(
        self,
        images: Sequence[FlashImage],
        sink: EventSink | None = None,
        cancelled: Callable[[], bool] | None = None,
        skip_unchanged: bool = True,
        deflated: Sequence[bytes] = (),
    ) -> WriteResult:
        """Write each image at its offset, in order; every image is MD5-verified once it is in flash.

        With `skip_unchanged` the chip's flash is compared first (app/flashing/flash_diff.py) and only
        the 4 KiB sectors that differ are written; an image already in flash is verified by that
        comparison, one partly written by a final MD5 of the whole image. One esptool write per image
        or changed run, so progress knows which image it belongs to (skipped sectors count as done).
        `cancelled` is asked between 16 KiB blocks; when it says yes the write stops with
        FlashCancelledError. `deflated` holds the images' zlib streams when the station made them
        (app/flashing/deflate_memo.py), in the same order; esptool then does not compress them again.
        """
        out = sink or self._sink
        total = sum(len(image.data) for image in images)
        if DEFLATED is not None:
            for image, stream in zip(images, deflated, strict=False):
                DEFLATED.offer(image.data, stream)  # esptool's compress answers with it
        done_before = 0
        verified: list[bool] = []
        plans: list[WritePlan] = []
        for index, image in enumerate(images):
            if not image.data:
                raise ValidationError(
                    f"the {image.kind.value} image {image.name!r} is empty; nothing to write"
                )
            plan = self._plan(image, out) if skip_unchanged else full_write(image.offset, len(image.data))
            plans.append(plan)
            seen = _VerifyWatch(out)
            skipped = len(image.data) - plan.bytes_to_write
            progress = _ProgressMapper(out, images, index, done_before, total, cancelled, base=skipped)
            for start, end in plan.runs:
                progress.span(end - start)
                what = f"writing {image.name} at {image.offset + start:#x}"
                with EVENT_LOGGER.routed(seen, progress), _translated(what, self.url):
                    cmds.write_flash(
                        self._esp,
                        [(image.offset + start, image.data[start:end])],
                        flash_freq="keep",
                        flash_mode="keep",
                        flash_size="keep",
                    )
                progress.done_span()
            progress.finish()
            if plan.unchanged:
                verified.append(True)  # the comparison was the verification
            elif plan.compared and plan.runs != ((0, len(image.data)),):
                verified.append(self._verify_whole(image))  # esptool verified only the parts written
            else:
                verified.append(seen.verified)
            done_before += len(image.data)
        return WriteResult(tuple(verified), tuple(plans))

    def _plan(self, image: FlashImage, out: EventSink) -> WritePlan:
        """Which sectors of `image` differ from the flash; everything when the chip cannot say."""
        size = len(image.data)
        if not can_compare(image.offset, size) or getattr(self._esp, "secure_download_mode", False):
            return full_write(image.offset, size)
        try:
            with self._step(f"comparing {image.name} with the flash at {image.offset:#x}"):
                plan = plan_write(image.offset, image.data, lambda a, n: str(self._esp.flash_md5sum(a, n)))
        except FlashError as exc:
            if isinstance(exc, (BoardVanishedError, FlashTimeoutError)):
                raise
            out(
                FlashLog(
                    LogLevel.NOTE, f"{image.name}: the flash cannot be compared ({exc}); writing all of it"
                )
            )
            return full_write(image.offset, size)
        if plan.unchanged:
            out(
                FlashLog(
                    LogLevel.INFO,
                    f"{image.name} at {image.offset:#x} is already in flash (MD5 matches); not written",
                )
            )
        elif plan.changed_sectors < plan.sectors:
            out(
                FlashLog(
                    LogLevel.INFO,
                    f"{image.name} at {image.offset:#x}: {plan.changed_sectors} of {plan.sectors} sectors "
                    "differ; writing only those",
                )
            )
        return plan

    def _verify_whole(self, image: FlashImage) -> bool:
        """After writing some sectors, the whole image must read back right, not just the parts written."""
        expected = hashlib.md5(image.data, usedforsecurity=False).hexdigest()
        actual = self.flash_md5(image.offset, len(image.data))
        if actual != expected:
            raise VerifyError(
                f"{image.name} at {image.offset:#x} reads back with MD5 {actual} after writing its changed "
                f"sectors, but {expected} was wanted; the flash may be faulty. Try again"
            )
        return True

    def flash_md5(self, offset: int, size: int) -> str:
        """MD5 (hex) of a flash region as the chip computes it: an independent read-back check."""
        with self._step(f"reading back {size} bytes at {offset:#x}"):
            return str(self._esp.flash_md5sum(offset, size))

    def hard_reset(self) -> None:
        """Reset into the flashed firmware (RTS toggle). Over socket:// there are no modem lines."""
        with self._step("resetting the board"):
            cmds.reset_chip(self._esp, "hard-reset")


class _VerifyWatch:
    """Passes events on and notes esptool's 'Hash of data verified.' for the image being written."""

    def __init__(self, sink: EventSink) -> None:
        self._sink = sink
        self.verified = False

    def __call__(self, event: FlashEvent) -> None:
        if isinstance(event, FlashLog) and event.text == _VERIFIED_LINE:
            self.verified = True
        self._sink(event)


class _ProgressMapper:
    """esptool counts the (compressed) bytes it sends; a person wants bytes of the image.

    An image may be written as several runs of changed sectors: `base` bytes (the unchanged ones) count
    as done from the start, and each run's wire progress maps onto its own share of the image.
    """

    def __init__(
        self,
        sink: EventSink,
        images: Sequence[FlashImage],
        index: int,
        done_before: int,
        total: int,
        cancelled: Callable[[], bool] | None,
        base: int = 0,
    ) -> None:
        self._sink = sink
        self._image = images[index]
        self._count = len(images)
        self._index = index
        self._done_before = done_before
        self._total = total
        self._cancelled = cancelled
        self._last = -1
        self._base = base
        self._span = len(self._image.data) - base

    def span(self, size: int) -> None:
        """The next esptool write covers `size` bytes of the image."""
        self._span = size

    def done_span(self) -> None:
        self._base += self._span
        self._span = 0

    def __call__(self, current: int, wire_total: int) -> None:
        part = self._span if wire_total <= 0 else min(self._span, current * self._span // wire_total)
        self._report(min(len(self._image.data), self._base + part))
        if self._cancelled is not None and self._cancelled():
            raise FlashCancelledError(
                f"flashing cancelled while writing {self._image.name} at {self._image.offset:#x}; "
                "the board holds a partial image: reset it and flash again"
            )

    def finish(self) -> None:
        self._report(len(self._image.data))

    def _report(self, done: int) -> None:
        if done == self._last:
            return
        self._last = done
        self._sink(
            FlashProgress(
                index=self._index,
                count=self._count,
                name=self._image.name,
                offset=self._image.offset,
                image_done=done,
                image_total=len(self._image.data),
                overall_done=self._done_before + done,
                overall_total=self._total,
            )
        )


def _chip_type(esptool_name: str) -> ChipType | None:
    try:
        return ChipType.parse(esptool_name)
    except ValidationError:
        return None


def _open_port(url: str) -> Any:
    try:
        return serial.serial_for_url(url, exclusive=True)
    except (serial.SerialException, OSError, ValueError) as error:
        raise BoardNotFoundError(
            f"cannot open {url}: {_reason(error)}. Check the board is plugged in and that no other "
            "program (a serial monitor, another flasher) holds the port"
        ) from None


@contextmanager
def _translated(step: str, url: str, connecting: bool = False) -> Iterator[None]:
    """Turn esptool/pyserial exceptions raised while doing `step` into typed, actionable errors."""
    try:
        yield
    except StationError:
        raise
    except (serial.SerialException, OSError) as error:
        raise BoardVanishedError(
            f"the board on {url} went away while {step} ({_reason(error)}); "
            "check it is still plugged in, then try again"
        ) from None
    except FatalError as error:
        raise _from_fatal(str(error), step, url, connecting) from None


def _from_fatal(message: str, step: str, url: str, connecting: bool) -> FlashError:
    first = message.strip().splitlines()[0] if message.strip() else "unknown esptool error"
    if connecting and ("Failed to connect" in message or any(m in message for m in _SILENCE_MARKERS)):
        return BoardNotRespondingError(
            f"no ESP bootloader answered on {url} ({first}). Put the board in download mode (hold BOOT, "
            "press RESET) or check the cable and the port"
        )
    if "MD5 of file does not match" in message or "written flash region is empty" in message:
        return VerifyError(
            f"verification failed while {step} on {url}: {first} The flash may be faulty; try again"
        )
    if any(marker in message for marker in _SILENCE_MARKERS):
        return FlashTimeoutError(
            f"the board on {url} stopped answering while {step} ({first}); it may have been unplugged or "
            "reset. Check it, then try again"
        )
    return FlashError(f"{step} failed on {url}: {first}")


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
