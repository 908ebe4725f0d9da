"""10,000 queued DeviceIDs delivered to a served instance over loopback HTTPS, and the dashboard meanwhile.

A line that ran through a network outage owes the instance every DeviceID of those hours. This queues
`--ids` entries in a records file, serves a fresh instance over HTTPS on 127.0.0.1 (the same parts as
`ql-station serve`), and times `flush_outbox` sending them through a `RemoteInstance`; a second client
asks for the dashboard summary every 50 ms while it runs, and its latencies are printed.

    .venv/bin/python benchmarks/outbox_sync.py [--ids 10000] [--group 1000]

Goals (issue 11): the whole outbox in <= 10 s (so pushes go in groups, each with its own key), and the
dashboard <= 200 ms meanwhile.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keyring

from app.instance.remote.connection import Connection
from app.instance.remote.instance import RemoteInstance
from app.provisioning.device_journal import JournalState
from app.provisioning.device_push import flush_outbox
from app.provisioning.records import RecordsDB
from app.server.http_api import create_app
from app.server.https_server import HttpsServer, Listen, bind, tls_context
from app.server.served_instance import ServedInstance
from tests.support.file_keyring import ENV_FILE, FileKeyring

BATCH = "line"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=10_000)
    parser.add_argument("--group", type=int, default=1000, help="DeviceIDs per request")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="outbox-sync-") as folder_name:
        folder = Path(folder_name)
        os.environ[ENV_FILE] = str(folder / "keyring.json")  # never a person's keyring
        keyring.set_keyring(FileKeyring(folder / "keyring.json"))
        served = ServedInstance(folder / "server" / "instance.sqlite3")
        served.station.create_batch(BATCH)
        certificate = served.station.issue_server_certificate(["127.0.0.1"])
        ca_file = folder / "root-ca.pem"
        ca_file.write_text(next(c.pem for c in served.station.certificates() if c.role == "root"))
        server = HttpsServer(
            create_app(served), bind(Listen("127.0.0.1", 0)), tls_context(certificate, folder)
        )
        server.start()
        url = f"https://127.0.0.1:{server.port}"
        records = RecordsDB(folder / "station" / "records.sqlite3")
        started = time.perf_counter()
        for i in range(args.ids):
            device_id = hashlib.sha256(f"outbox-bench-{i}".encode()).hexdigest()
            entry = records.journal.receive(device_id, batch=BATCH, move=False)
            records.journal.settle(entry.id, JournalState.QUEUED, "network down")
        queued_s = time.perf_counter() - started

        pusher = RemoteInstance(Connection(url, ca_file, token=served.issue_token(None)))
        viewer = RemoteInstance(Connection(url, ca_file, token=served.issue_token(None)))
        latencies: list[float] = []
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                asked = time.perf_counter()
                viewer.dashboard_summary()
                latencies.append(time.perf_counter() - asked)
                done.wait(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        started = time.perf_counter()
        report = flush_outbox(pusher, records.journal, group_size=args.group)
        sync_s = time.perf_counter() - started
        done.set()
        watcher.join()
        total = pusher.get_batch(BATCH).counts.total
        for closing in (pusher, viewer):
            closing.close()
        records.close()
        server.stop()
        served.close()

    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))] if ms else float("nan")
    print(f"queued {args.ids:,} DeviceIDs in the records file      {queued_s:6.2f} s")
    print(f"delivered over loopback HTTPS ({args.group}/request)   {sync_s:6.2f} s   (goal <= 10 s)")
    print(f"  sent {report.pushed:,}, refused {report.refused}, still queued {report.still_queued}")
    print(f"  the server's batch holds {total:,}")
    if ms:
        print(
            f"dashboard meanwhile: {len(ms)} asks, p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, "
            f"max {ms[-1]:.1f} ms   (goal <= 200 ms)"
        )
    ok = report.still_queued == 0 and total == args.ids and sync_s <= 10 and (not ms or ms[-1] <= 200)
    print("goals met" if ok else "goals MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
