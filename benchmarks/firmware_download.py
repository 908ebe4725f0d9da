"""Firmware downloads over the enrolment connection: how fast devices get an offered update.

A fresh local instance (passphrase mode, no keyring touched) with a firmware assigned to a batch; the
service runs on a thread of this process; devices are the virtual boards' own device side
(`app.sim.device_enrolment.enrol` with a download), each enrolling, being offered the firmware and
downloading it piece by piece (6 KiB per `firmware_get`), its SHA-256 checked. Printed: one device
alone, then `--devices` devices with `--concurrency` at once (downloads/s, MiB/s, latency).

    .venv/bin/python benchmarks/firmware_download.py [--devices 64] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from device_crowd import run_crowd

from app.domain.chips import ChipType
from app.domain.kinds import IefKind, KeyType
from app.sim.device_enrolment import DeviceKeys, Download, enrol
from app.sim.images import build_sim_ief

BATCH = "bench"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=64, help="devices that download the firmware")
    parser.add_argument("--concurrency", type=int, default=16, help="devices downloading at once")
    args = parser.parse_args()
    import keyring
    from keyring.backends import fail

    from app.enrolment.runner import EnrolListen, start_enrolment
    from app.instance.local.instance import LocalInstance

    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    passphrase = secrets.token_urlsafe(16)  # this run only, never stored
    devices = [
        DeviceKeys(ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1()))
        for _ in range(args.devices + 1)
    ]
    with (
        tempfile.TemporaryDirectory(prefix="ql-bench-ota-") as tmp,
        LocalInstance.open(Path(tmp) / "i.sqlite3", passphrase_prompt=lambda _r, _n: passphrase) as instance,
    ):
        instance.create_signing_key("k", KeyType.ECDSA_P256)
        image = build_sim_ief(ChipType.ESP32C3, IefKind.NON_DEBUG, version="2.1.0")
        firmware = instance.upload_firmware("app", "2.1.0", ChipType.ESP32C3, [], image, "k")
        instance.create_batch(BATCH, firmware="app")
        instance.add_devices(BATCH, [d.device_id for d in devices])
        root_pem = next(c.pem for c in instance.certificates() if c.role == "root")
        root = x509.load_pem_x509_certificate(root_pem.encode()).public_bytes(serialization.Encoding.DER)
        service = start_enrolment(instance, EnrolListen("127.0.0.1", 0), Path(tmp))
        address = ("127.0.0.1", service.port)

        def one(keys: DeviceKeys) -> float:
            start = time.perf_counter()
            done = enrol(address, "localhost", root, keys, log=lambda _t: None, download=Download("esp32c3"))
            assert done.offer is not None and done.offer.image is not None
            return time.perf_counter() - start

        alone = one(devices[0])
        crowd = run_crowd(devices[1:], one, args.concurrency)
        downloads = service.counters.firmware_downloads
        service.stop()

    size = firmware.size
    print(f"firmware: {size} bytes signed ({(size + 6143) // 6144} pieces of up to 6 KiB)")
    print(f"one device alone, enrol + status + whole download: {alone * 1000:.0f} ms")
    rate = len(crowd.latencies) / crowd.elapsed
    print(
        f"{len(crowd.latencies)} of {args.devices} devices ({args.concurrency} at once) in "
        f"{crowd.elapsed:.2f} s: {rate:.1f} downloads/s, {rate * size / (1 << 20):.2f} MiB/s"
    )
    spread = crowd.percentiles_ms()
    if spread is not None:
        print(f"per device under load: median {spread[0]:.0f} ms, p95 {spread[1]:.0f} ms")
    print(f"service counted {downloads} whole downloads")
    if crowd.failures:
        print(f"failures: {len(crowd.failures)}, first: {crowd.failures[0]}")
    return 0 if not crowd.failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
