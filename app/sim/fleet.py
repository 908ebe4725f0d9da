"""Many virtual boards in one process, and the Python API tests and the engine use.

    with SimFleet(state_root, count=4, chip=ChipType.ESP32C3, pacing=False) as fleet:
        for url in fleet.urls:            # rfc2217://127.0.0.1:<port>, one per board
            ...
        fleet.boards[0].faults.stall_at_stage = Stage.FLASH_DATA
        fleet.servers[1].unplug(); fleet.servers[1].replug()

Board i keeps its state in `state_root/sim-<i+1>` (so the same root gives the same boards back). With
`registry` set (a DataDir's `sim_registry`), each plugged board is registered for port discovery and
unregistered when unplugged or when the fleet closes.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from app.domain.chips import ChipType
from app.domain.errors import ValidationError
from app.sim.board import VirtualBoard
from app.sim.faults import Faults
from app.sim.ief import IefSettings
from app.sim.rfc2217_server import BoardServer
from app.sim.run_context import AccessPoint
from app.system import sim_registry

MAX_BOARDS = 64


def default_access_point() -> AccessPoint:
    """A fresh network for this simulator run; nothing is committed or reused between runs."""
    return AccessPoint(ssid=f"ql-sim-{secrets.token_hex(2)}", password=secrets.token_urlsafe(12))


class SimFleet:
    def __init__(
        self,
        state_root: Path,
        count: int = 1,
        chip: ChipType = ChipType.ESP32C3,
        pacing: bool = True,
        access_point: AccessPoint | None = None,
        faults: Sequence[Faults | None] = (),
        registry: Path | None = None,
        ief_settings: IefSettings | None = None,
        name_prefix: str = "sim",
        usb_ids: Sequence[tuple[int, int] | None] = (),
    ) -> None:
        """`usb_ids[i]`: the USB VID/PID board i is listed with (the bridge it pretends to sit behind;
        give it `Faults(max_baud=...)` too, to make it garble above that bridge's limit)."""
        if not 1 <= count <= MAX_BOARDS:
            raise ValidationError(f"a simulator runs 1 to {MAX_BOARDS} boards; {count} were asked for")
        if len(faults) > count:
            raise ValidationError(
                f"faults were given for {len(faults)} boards but only {count} are simulated"
            )
        self.access_point = access_point or default_access_point()
        self.registry = registry
        self.chip = chip
        self.servers: list[BoardServer] = []
        try:
            for index in range(count):
                name = f"{name_prefix}-{index + 1}"
                board = VirtualBoard(
                    name,
                    state_root / name,
                    chip,
                    self.access_point,
                    faults=faults[index] if index < len(faults) else None,
                    pacing=pacing,
                    ief_settings=ief_settings,
                )
                board.usb_id = usb_ids[index] if index < len(usb_ids) else None
                server = BoardServer(board)
                server.on_unplug = self._unregister
                server.on_replug = self._register
                self.servers.append(server)
            macs = [s.board.mac for s in self.servers]
            if len(set(macs)) != len(macs):
                raise ValidationError("two boards of the fleet share a MAC address; use fresh state folders")
            for server in self.servers:
                server.start()
                self._register(server)
        except BaseException:
            self.close()
            raise

    @property
    def boards(self) -> list[VirtualBoard]:
        return [s.board for s in self.servers]

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]

    def _register(self, server: BoardServer) -> None:
        if self.registry is None:
            return
        entry = sim_registry.VirtualBoardEntry(
            name=server.board.name,
            url=server.url,
            chip=self.chip.value,
            mac=server.board.mac,
            pid=os.getpid(),
            usb_vid=server.board.usb_id[0] if server.board.usb_id else None,
            usb_pid=server.board.usb_id[1] if server.board.usb_id else None,
        )
        sim_registry.register(self.registry, entry)

    def _unregister(self, server: BoardServer) -> None:
        if self.registry is not None:
            sim_registry.unregister(self.registry, server.board.name)

    def close(self) -> None:
        for server in self.servers:
            self._unregister(server)
            server.close()
        self.servers = []

    def __enter__(self) -> SimFleet:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
