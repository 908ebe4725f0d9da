"""A station process that only delivers its outbox, for the fault tests that kill it mid-delivery.

    python -m tests.provisioning.outbox_sender < config.json

The config (stdin, never argv: it holds a password) names the records file, the served instance's URL
and root CA, a user and password, and the group size. It prints one line per flush and exits 0 when
the outbox is empty, 3 while entries stay queued.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from app.instance.remote.instance import RemoteInstance
from app.provisioning.device_push import flush_outbox
from app.provisioning.records import RecordsDB


def main() -> int:
    config = json.loads(sys.stdin.read())
    remote = RemoteInstance.sign_in(
        config["url"], Path(config["ca_file"]), config["user"], config["password"], read_timeout_s=5
    )
    with remote, RecordsDB(Path(config["records"])) as records:
        records.journal.recover()
        report = flush_outbox(remote, records.journal, group_size=int(config["group_size"]))
    print(f"sent {report.pushed} refused {report.refused} queued {report.still_queued}", flush=True)
    return 0 if report.still_queued == 0 else 3


if __name__ == "__main__":
    sys.exit(main())
