"""Wire time of a 1 MiB flash write to a paced virtual board, against the line-rate bound.

The bound is what the bytes alone need on a UART: wire bytes x 10 bits (8N1) / baud, counting both
directions as the board saw them during write_flash (esptool waits for each answer, so the directions do
not overlap). The goal is a measured time within 5 % of the bound, so that later timing work measures
the engine, not the simulator.

The host side is set up as the station's port worker sets it up: the quick RFC 2217 client
(app.provisioning.serial_urls) and the esptool CPU patch, so the figure is not dominated by pyserial's
50 ms polling or esptool's hex-dump formatting.

    .venv/bin/python benchmarks/sim_wire_time.py [--baud 921600] [--size-kib 1024]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import esptool
import esptool.loader
from esptool.cmds import detect_chip, write_flash

from app.domain.chips import ChipType
from app.flashing.esptool_cpu_patch import apply_cpu_patch
from app.provisioning.serial_urls.protocol_rfc2217 import Serial as QuickRfc2217
from app.sim.fleet import SimFleet

WRITE_OFFSET = 0x100000


def _image(kind: str, size: int) -> bytes:
    if kind == "random":
        return os.urandom(size)  # incompressible: esptool sends it as plain FLASH_DATA
    rng = random.Random(7)  # firmware-like: compressible, sent as FLASH_DEFL_DATA
    words = [rng.randbytes(4) for _ in range(256)]
    return b"".join(rng.choice(words) for _ in range(size // 4))


def measure(kind: str, baud: int, size: int) -> dict[str, float]:
    image = _image(kind, size)
    with tempfile.TemporaryDirectory() as tmp, SimFleet(Path(tmp), count=1, chip=ChipType.ESP32C3) as fleet:
        board = fleet.boards[0]
        port = QuickRfc2217(None)
        port.port = fleet.urls[0]
        port.baudrate = 115200
        port.open()
        quiet = io.StringIO()
        with contextlib.redirect_stdout(quiet):
            esp = detect_chip(port)
            esp = esp.run_stub()
            esp.change_baud(baud)
            rx0, tx0 = board.uart.rx_bytes, board.uart.tx_bytes
            start = time.perf_counter()
            write_flash(esp, [(WRITE_OFFSET, image)], compress=kind != "random")
            elapsed = time.perf_counter() - start
        rx, tx = board.uart.rx_bytes - rx0, board.uart.tx_bytes - tx0
        port.close()
        readback = board.state.flash.read(WRITE_OFFSET, len(image))
    bound = (rx + tx) * 10 / baud
    return {
        "elapsed": elapsed,
        "host_bytes": rx,
        "board_bytes": tx,
        "bound": bound,
        "ratio": elapsed / bound,
        "ok": float(readback == image),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baud", type=int, default=921600)
    parser.add_argument("--size-kib", type=int, default=1024)
    args = parser.parse_args()
    patch = apply_cpu_patch(esptool.loader, esptool.__version__)
    print(f"esptool {esptool.__version__}, CPU patch: {patch.reason if not patch.active else 'on'}")
    print(f"{args.size_kib} KiB written at {args.baud} baud to one paced virtual ESP32-C3\n")
    print(
        f"{'image':<10} {'host->board':>12} {'board->host':>12} {'bound s':>8} {'measured s':>10} {'over':>7}"
    )
    worst = 0.0
    for kind in ("random", "firmware"):
        r = measure(kind, args.baud, args.size_kib * 1024)
        if not r["ok"]:
            print(f"{kind}: read-back differs from the image written", file=sys.stderr)
            return 1
        worst = max(worst, r["ratio"])
        print(
            f"{kind:<10} {int(r['host_bytes']):>12} {int(r['board_bytes']):>12} {r['bound']:>8.2f} "
            f"{r['elapsed']:>10.2f} {(r['ratio'] - 1) * 100:>6.1f}%"
        )
    print(f"\nworst: {(worst - 1) * 100:.1f}% over the line-rate bound (goal: within 5%)")
    return 0 if worst <= 1.05 else 1


if __name__ == "__main__":
    raise SystemExit(main())
