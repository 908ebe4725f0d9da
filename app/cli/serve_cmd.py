"""`ql-station serve [--listen HOST:PORT] [--hostname NAME ...]`: this data folder's instance over HTTPS.

TLS always: at each start the instance's issuing CA issues a server certificate for the given names and
the listen address, so a station that paired with the instance's root CA (its fingerprint is printed)
verifies the server with no exception. Clients sign in with a user's name and password; the instance
enforces their roles. Ctrl-C or SIGTERM stops it cleanly (exit 0).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging

from app.cli.context import CliContext
from app.enrolment.runner import BesideServer, start_beside_server
from app.instance.local.pki import default_tls_hostnames
from app.server.http_api import create_app
from app.server.https_server import DEFAULT_HOST, DEFAULT_PORT, HttpsServer, Listen, bind, tls_context
from app.server.served_instance import ServedInstance


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("serve", help="serve this data folder's instance over HTTPS to other stations")
    parser.add_argument(
        "--listen",
        default=f"{DEFAULT_HOST}:{DEFAULT_PORT}",
        metavar="HOST:PORT",
        help=f"address to listen on (default {DEFAULT_HOST}:{DEFAULT_PORT}; 0.0.0.0:8443 for the network)",
    )
    parser.add_argument(
        "--hostname",
        action="append",
        default=[],
        metavar="NAME",
        help="a name or address stations use to reach this server (repeatable; goes in the certificate)",
    )
    parser.add_argument(
        "--enrol-listen",
        default=None,
        metavar="HOST:PORT",
        help="where devices enrol (default 127.0.0.1 and the instance port, 6000; 'off' to not serve them)",
    )
    parser.set_defaults(handler=serve_command)


def certificate_names(listen: Listen, hostnames: list[str]) -> list[str]:
    """The given names, then the listen address; a wildcard address stands for this computer's names."""
    names = list(hostnames)
    try:
        wildcard = ipaddress.ip_address(listen.host).is_unspecified
    except ValueError:
        wildcard = False
    names += default_tls_hostnames() if wildcard else [listen.host]
    return list(dict.fromkeys(names))


def serve_command(ctx: CliContext, args: argparse.Namespace) -> int:
    listen = Listen.parse(args.listen)
    names = certificate_names(listen, args.hostname)
    ctx.data_dir.ensure()
    db_path = ctx.data_dir.local_instance_db
    served = ServedInstance(db_path, passphrase_prompt=ctx.passphrase_prompt)
    enrolment: BesideServer | None = None
    try:
        certificate = served.station.issue_server_certificate(names)
        sock = bind(listen)
        server = HttpsServer(
            create_app(served), sock, tls_context(certificate, db_path.parent), access_log=True
        )
        server.stop_on_signals()
        enrolment = start_beside_server(served.station, args.enrol_listen, db_path.parent)
        root = next(c for c in served.station.certificates() if c.role == "root")
        url_host = names[0] if listen.host in ("0.0.0.0", "::") else listen.url_host  # noqa: S104
        url_host = f"[{url_host}]" if ":" in url_host and not url_host.startswith("[") else url_host
        print(f"Serving {served.station.info().name} at https://{url_host}:{server.port}", file=ctx.out)
        print(f"Root CA SHA-256 fingerprint: {root.fingerprint_sha256}", file=ctx.out)
        print(f"Certificate names: {', '.join(certificate.names)}", file=ctx.out)
        print(enrolment.banner, file=ctx.out)
        print("Stop with Ctrl-C.", file=ctx.out, flush=True)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        server.run()
    finally:
        if enrolment is not None:
            enrolment.stop()
        served.close()
    print("Stopped.", file=ctx.out, flush=True)
    return 0
