"""What pairing and signing in cost: over loopback HTTPS to a served instance, and on the built-in one.

    .venv/bin/python benchmarks/sign_in.py [--runs 10]

Prints p50 and max of: pairing (fetch the root CA, verify the server with it, save), a remote sign-in
(scrypt on the server, the token into the keyring), opening with a kept token (what every CLI command
pays first: the keyring, a TLS connection, GET /v1/info), and the same two on the built-in instance.
Secrets go to an in-memory keyring made for this run; everything else to a temporary folder.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import keyring

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.domain.kinds import Role  # noqa: E402
from app.instance.remote import pairing  # noqa: E402
from app.instance.station_access import StationAccess  # noqa: E402
from app.server.http_api import create_app  # noqa: E402
from app.server.https_server import HttpsServer, Listen, bind, tls_context  # noqa: E402
from app.server.served_instance import ServedInstance  # noqa: E402
from app.system.keyring_store import KeyringStore  # noqa: E402
from app.system.paths import DataDir  # noqa: E402
from tests.support.memory_keyring import MemoryKeyring  # noqa: E402

PASSWORD = "a benchmark password"  # noqa: S105 - a throwaway user in a temporary folder


def timed(what: str, fn: Callable[[], None], runs: int) -> None:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    print(f"{what:<52} p50 {statistics.median(times):7.1f} ms   max {max(times):7.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    keyring.set_keyring(MemoryKeyring())
    root = Path(tempfile.mkdtemp(prefix="ql-sign-in-bench-"))
    served = ServedInstance(root / "server" / "instance.sqlite3")
    served.station.create_user("alice", PASSWORD, Role.ADMINISTRATOR)
    certificate = served.station.issue_server_certificate(["127.0.0.1"])
    server = HttpsServer(
        create_app(served), bind(Listen("127.0.0.1", 0)), tls_context(certificate, root / "server")
    )
    server.start()
    try:
        url = f"https://127.0.0.1:{server.port}"
        fingerprint = next(c for c in served.station.certificates() if c.role == "root").fingerprint_sha256
        station = DataDir(root / "station").ensure()

        def pair() -> None:
            pairing.pair(station.root, url, fingerprint=fingerprint)

        timed("pair (fetch root CA, verify the server, save)", pair, runs)
        remote = StationAccess(station, KeyringStore())
        local = StationAccess(DataDir(root / "local"), KeyringStore())
        with local.open_local() as instance:
            instance.create_user("bob", PASSWORD, Role.ADMINISTRATOR)
        for name, access, user in (("served instance", remote, "alice"), ("built-in instance", local, "bob")):

            def sign_in(access: StationAccess = access, user: str = user) -> None:
                instance, _token = access.sign_in(user, PASSWORD, keep=True)
                instance.close()

            def open_kept(access: StationAccess = access) -> None:
                instance = access.open_kept()
                assert instance is not None
                instance.close()

            timed(f"sign in, token kept ({name})", sign_in, runs)
            timed(f"open with the kept token ({name})", open_kept, runs * 2)
    finally:
        server.stop()
        served.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
