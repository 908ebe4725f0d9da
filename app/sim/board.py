"""A virtual board: its state, its UART, the auto-reset circuit and the CPU that runs its firmware.

Auto-reset circuit (as on ESP32 dev boards: two transistors between the USB-UART's DTR/RTS and the chip's
EN/IO0): EN is pulled low only while RTS is asserted and DTR is not; IO0 is pulled low only while DTR is
asserted and RTS is not; with both asserted (what opening a port does) nothing happens. When EN is
released, an RC network holds it low for `en_delay` more seconds before the chip starts and samples IO0.
Over RFC 2217 each line change waits for the server's answer (pyserial's own client polls for it every
50 ms), so esptool's ClassicReset drives IO0 low some milliseconds after releasing EN (esptool issue
#383). The board therefore models a slow RC (150 ms): if IO0 is driven low at any moment of that window,
the chip starts in download mode 10 ms later (the strap has settled); otherwise it boots from flash when
the window ends. That is the sequence esptool means, whatever the network latency. A hard reset
(RTS pulse with DTR released) never drives IO0 low and boots from flash.

The CPU is one thread per board. Each reset starts a new "run" (ROM download mode, or boot + IEF); the
previous run is interrupted wherever it was blocked.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from app.domain.chips import ChipType
from app.sim.board_state import BoardState
from app.sim.boot import boot_from_flash
from app.sim.chip_model import MODELS
from app.sim.efuses import EfuseState
from app.sim.faults import Faults, Stage
from app.sim.ief import IefSettings, run_ief
from app.sim.rom_loader import DownloadMode
from app.sim.run_context import AccessPoint, BootMode, Restart, RunContext
from app.sim.uart import Interrupted, Uart

_log = logging.getLogger(__name__)
EN_RC_DELAY = 0.15
STRAP_SETTLE = 0.01


class VirtualBoard:
    def __init__(
        self,
        name: str,
        state_dir: Path,
        chip: ChipType,
        access_point: AccessPoint,
        faults: Faults | None = None,
        pacing: bool = True,
        ief_settings: IefSettings | None = None,
        en_delay: float = EN_RC_DELAY,
    ) -> None:
        self.name = name
        self.chip = chip
        self.faults = faults or Faults()
        initial = None
        if self.faults.locked_key_digest is not None:
            initial = EfuseState().with_secure_boot(chip, self.faults.locked_key_digest)
        self.state = BoardState(state_dir, chip, initial_efuses=initial)
        self.uart = Uart(self.faults, pacing)
        self.uart.on_rx_limit = self._vanish_soon
        self.access_point = access_point
        self.ief_settings = ief_settings or IefSettings()
        self.en_delay = en_delay
        self.on_vanish: Callable[[], None] | None = None
        self.usb_id: tuple[int, int] | None = None  # the USB VID/PID it is listed with (fleet registry)
        self.stages: list[Stage] = []
        self.errors: list[str] = []
        self.boot_modes: list[BootMode] = []
        self._cv = threading.Condition()
        self._dtr = self._rts = False
        self._en_low = False
        self._window_open = False
        self._release_token = 0
        self._request: tuple[BootMode, str | None, int] | None = None
        self._closed = False
        self._powered = False
        self._thread = threading.Thread(target=self._cpu, name=f"sim-{name}-cpu", daemon=True)
        self._thread.start()

    @property
    def mac(self) -> str:
        return self.state.identity.mac_text

    @property
    def lines(self) -> tuple[bool, bool]:
        return self._dtr, self._rts

    # ------------------------------------------------------------------ power and pins
    def power_on(self) -> None:
        with self._cv:
            self._en_low = False
            self._powered = True
        self._start(BootMode.FLASH, None)

    def power_off(self) -> None:
        with self._cv:
            self._powered = False
            self._release_token += 1
            self._request = None
        self.uart.interrupt(receiving=False)

    def set_lines(self, dtr: bool | None = None, rts: bool | None = None) -> None:
        with self._cv:
            self._dtr = self._dtr if dtr is None else dtr
            self._rts = self._rts if rts is None else rts
            en_low = self._rts and not self._dtr
            io0_low = self._dtr and not self._rts
            if en_low and not self._en_low:
                self._en_low = True
                self._window_open = False
                self._release_token += 1
                self._request = None
                self.uart.interrupt(receiving=False)
            elif not en_low and self._en_low:
                self._en_low = False
                self._window_open = True
                self._schedule(STRAP_SETTLE if io0_low else self.en_delay, io0_low)
            elif self._window_open and io0_low:
                self._schedule(STRAP_SETTLE, True)

    def _schedule(self, delay: float, download: bool) -> None:
        self._release_token += 1
        timer = threading.Timer(delay, self._released, args=(self._release_token, download))
        timer.daemon = True
        timer.start()

    def port_closed(self) -> None:
        """The host closed the port: the adapter drops DTR and RTS together, which resets nothing."""
        with self._cv:
            self._dtr = self._rts = False
            if self._en_low:
                self._en_low = False
                self._window_open = True
                self._schedule(self.en_delay, False)

    def _released(self, token: int, download: bool) -> None:
        with self._cv:
            if token != self._release_token or self._en_low or self._closed or not self._powered:
                return
            self._window_open = False
        self._start(BootMode.DOWNLOAD if download else BootMode.FLASH, None)

    def _start(self, mode: BootMode, reset_text: str | None) -> None:
        self.uart.interrupt(receiving=True)
        with self._cv:
            self._request = (mode, reset_text, self.uart.generation)
            self._cv.notify_all()

    def _vanish_soon(self) -> None:
        threading.Thread(target=self.vanish, name=f"sim-{self.name}-vanish", daemon=True).start()

    def vanish(self) -> None:
        """Unplug: the server stops listening and the board loses power."""
        if self.on_vanish is not None:
            self.on_vanish()
        else:
            self.power_off()

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._release_token += 1
            self._cv.notify_all()
        self.uart.interrupt(receiving=False)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.state.close()

    # ------------------------------------------------------------------ CPU
    def _cpu(self) -> None:
        while True:
            with self._cv:
                while self._request is None and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                assert self._request is not None
                mode, reset_text, generation = self._request
                self._request = None
            if generation != self.uart.generation:
                continue
            self._run(mode, reset_text, generation)

    def _run(self, mode: BootMode, reset_text: str | None, generation: int) -> None:
        while True:
            self.boot_modes.append(mode)
            ctx = RunContext(
                self.uart,
                generation,
                self.chip,
                MODELS[self.faults.report_chip or self.chip],
                self.state,
                self.faults,
                self.access_point,
                self._on_stage,
            )
            try:
                if mode is BootMode.DOWNLOAD:
                    DownloadMode(ctx).run()
                else:
                    app = boot_from_flash(ctx, reset_text)
                    run_ief(ctx, app, self.ief_settings)
                return
            except Restart as restart:
                self.uart.interrupt(receiving=True)
                mode, reset_text, generation = restart.mode, restart.reset_text, self.uart.generation
            except Interrupted:
                return
            except Exception as exc:  # a simulator bug must not kill the board thread
                _log.exception("virtual board %s crashed", self.name)
                self.errors.append(f"{type(exc).__name__}: {exc}")
                return

    def _on_stage(self, stage: Stage, ctx: RunContext) -> None:
        self.stages.append(stage)
        faults = self.faults
        if faults.vanish_at_stage is stage:
            faults.vanish_at_stage = None
            self.vanish()
            raise Interrupted
        if faults.stall_at_stage is stage:
            faults.stall_at_stage = None
            ctx.sleep(faults.stall_seconds if faults.stall_seconds != float("inf") else 10**9)
            ctx.uart.discard_input()
