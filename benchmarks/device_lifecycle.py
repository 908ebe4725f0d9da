"""The device lifecycle on a million-device batch: what the dashboard, the expiry sweep and a page cost.

    .venv/bin/python benchmarks/device_lifecycle.py [--count 1000000]

A fresh local instance in passphrase mode (no keyring touched) gets a batch of `--count` devices. A
hundred enrol for real through the enrolment desk; the certificate rows of the rest are copied from
those in bulk SQL (a million real signatures would only time the signing), and their states set through
the instance. Half the certificates ran out long ago and were swept. Then it times:
- the dashboard summary (its expiry probe included) when nothing is due;
- a sweep that finds 10,000 certificates run out at once, and the next one (nothing new);
- a Devices page at the first and at the last offset: the devices and their certificates (two calls);
- `device_certificate` of one device.
Goals on the 2-core reference machine: summary <= 200 ms, a page with its certificates <= 100 ms.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import keyring
from cryptography.hazmat.primitives.asymmetric import ec
from keyring.backends import fail

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.domain.kinds import DeviceState
from app.domain.records import PageRequest
from app.instance.local import device_certificates
from app.instance.local.database import to_ms
from app.instance.local.instance import LocalInstance
from app.ui.models.device_pages import load_rows
from benchmarks.batch_import import median_ms, timed

RUNS = 5
SUMMARY_GOAL_MS = 200.0
PAGE_GOAL_MS = 100.0
REAL_ENROLMENTS = 100
RUN_OUT_AT_ONCE = 10_000
PASSPHRASE = secrets.token_urlsafe(16)  # used for this run only, never stored


def _verdict(value: float, goal: float) -> str:
    return "ok" if value <= goal else "OVER GOAL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="devices in the batch")
    args = parser.parse_args()
    count: int = args.count
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    with tempfile.TemporaryDirectory(prefix="ql-bench-") as tmp:
        instance = LocalInstance.open(
            Path(tmp) / "instance.sqlite3", passphrase_prompt=lambda r, n: PASSPHRASE
        )
        try:
            run(instance, count)
        finally:
            instance.close()
    return 0


def run(instance: LocalInstance, count: int) -> None:
    ids = [os.urandom(32).hex() for _ in range(count)]
    instance.create_batch("bench")
    instance.add_devices("bench", ids)
    now = datetime.now(UTC)
    long_ago = now - timedelta(days=800)
    old_desk = instance.device_enrolment(lambda: long_ago)
    desk = instance.device_enrolment(lambda: now)
    half = count // 2
    started = time.perf_counter()
    for device in ids[:REAL_ENROLMENTS]:
        desk.enrol(device, ec.generate_private_key(ec.SECP256R1()).public_key())
    per_enrolment_ms = (time.perf_counter() - started) * 1000 / REAL_ENROLMENTS
    print(f"{REAL_ENROLMENTS} real enrolments through the desk: {per_enrolment_ms:.2f} ms each")
    old_desk.enrol(ids[half], ec.generate_private_key(ec.SECP256R1()).public_key())
    _fill(instance, ids, now, half)
    instance.set_device_state(ids[REAL_ENROLMENTS:half], DeviceState.ENROLLED)
    instance.set_device_state(ids[half:], DeviceState.ENROLLED)
    swept, sweep_s = timed(lambda: desk.expire_due())
    print(f"first sweep: {swept:,} certificates that ran out long ago made Expired in {sweep_s:.2f} s")

    summary_ms = median_ms(instance.dashboard_summary, RUNS)
    print(
        f"dashboard summary, nothing due: {summary_ms:.1f} ms "
        f"(goal <= {SUMMARY_GOAL_MS:.0f} ms: {_verdict(summary_ms, SUMMARY_GOAL_MS)})"
    )
    _run_out_at_once(instance, ids, now)
    for offset in (0, count - 200):
        request = PageRequest(offset=offset, limit=200)
        page_ms = median_ms(lambda request=request: load_rows(instance, "bench", request), RUNS)  # type: ignore[misc]
        print(
            f"Devices page at offset {offset:,} with its certificates: {page_ms:.1f} ms "
            f"(goal <= {PAGE_GOAL_MS:.0f} ms: {_verdict(page_ms, PAGE_GOAL_MS)})"
        )
    one_ms = median_ms(lambda: instance.device_certificate(ids[count // 3]), RUNS)
    print(f"device_certificate of one device: {one_ms:.2f} ms")
    counts = instance.dashboard_summary().devices
    states = f"enrolled {counts.enrolled:,}, expired {counts.expired:,}, registered {counts.registered:,}"
    print(f"states now: {states}")


def _fill(instance: LocalInstance, ids: list[str], now: datetime, half: int) -> None:
    """Certificate rows for every device, copied from a real one: the first half valid for a year, the
    second half run out long ago."""
    valid_until = to_ms(now + timedelta(days=365))
    ran_out = to_ms(now - timedelta(days=435))
    with instance._db.write() as conn:  # benchmark set-up only: a million rows in one statement each
        template = conn.execute(
            "SELECT serial_hex, certificate_pem FROM device_certificates WHERE device_id = ?",
            (bytes.fromhex(ids[0]),),
        ).fetchone()
        for part, until in ((ids[REAL_ENROLMENTS:half], valid_until), (ids[half + 1 :], ran_out)):
            conn.executemany(
                "INSERT INTO device_certificates (device_id, serial_hex, not_before_ms, not_after_ms, "
                "certificate_pem, first_enrolled_ms, enrolled_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (bytes.fromhex(d), template[0], until - 1, until, template[1], until - 1, until - 1)
                    for d in part
                ),
            )


def _run_out_at_once(instance: LocalInstance, ids: list[str], now: datetime) -> None:
    """10,000 valid certificates whose end moves to a minute ago: the sweep that finds them, then the next."""
    chunk = [bytes.fromhex(d) for d in ids[REAL_ENROLMENTS : REAL_ENROLMENTS + RUN_OUT_AT_ONCE]]
    with instance._db.write() as conn:
        conn.executemany(
            "UPDATE device_certificates SET not_after_ms = ? WHERE device_id = ?",
            ((to_ms(now - timedelta(minutes=1)), blob) for blob in chunk),
        )
        device_certificates.swept_through(conn, to_ms(now - timedelta(minutes=2)))
    swept, sweep_s = timed(lambda: instance.device_enrolment().expire_due())
    print(f"sweep finding {swept:,} certificates run out at once: {sweep_s * 1000:.0f} ms")
    _, again_s = timed(lambda: instance.device_enrolment().expire_due())
    print(f"the next sweep (nothing new): {again_s * 1000:.2f} ms")


if __name__ == "__main__":
    sys.exit(main())
