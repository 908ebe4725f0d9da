"""The enrolment service's TLS context, from a certificate the instance's issuing CA made for it.

Python's `ssl` loads a private key from a file only, so the key goes through a 0600 file in the data
folder that exists only while the context loads it (the same way `ql-station serve` does it); the key is
never logged, put in argv or left on disk.
"""

from __future__ import annotations

import os
import secrets
import ssl
from contextlib import suppress
from pathlib import Path

from app.instance.local.server_certificate import ServerCertificate
from app.system.private_files import FILE_MODE


def server_context(certificate: ServerCertificate, key_folder: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.num_tickets = 0  # a device connects once per boot: tickets would only cost CPU and bytes
    context.options |= ssl.OP_NO_TICKET
    chain = key_folder / f".enrol-{secrets.token_hex(8)}.chain.pem"
    key = key_folder / f".enrol-{secrets.token_hex(8)}.key.pem"
    try:
        files = ((chain, certificate.chain_pem.encode("ascii")), (key, certificate.private_key_pem))
        for path, data in files:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(fd, "wb") as file:
                file.write(data)
        context.load_cert_chain(chain, key)
    finally:
        for path in (chain, key):
            with suppress(FileNotFoundError):
                path.unlink()
    return context
