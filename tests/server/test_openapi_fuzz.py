"""Property-based run over the OpenAPI document (schemathesis): whatever a client sends, no 5xx.

Every operation of the committed document is called with generated valid and invalid requests against
a real served instance over HTTPS, signed in as an administrator (a fresh token per call, so a generated
sign-out or a wrong password cannot starve the rest). Any answer is fine except a server error: a bad
request must be a 4xx with a sentence. The instance holds a batch with devices, users and a task, so
generated names sometimes hit real ones.

`QL_FUZZ_PROFILE=long` (as `make fuzz` sets) runs many more examples per operation and includes key
generation; the default keeps this module well under a minute.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from app.domain.kinds import Role
from app.server.http_api import create_app
from app.server.https_server import HttpsServer, Listen, bind, tls_context
from app.server.served_instance import ServedInstance
from app.server.sign_in_limits import SignInLimits

LONG = os.environ.get("QL_FUZZ_PROFILE") == "long"
EXAMPLES = 300 if LONG else 12

_config = SchemathesisConfig()
if not LONG:  # the coverage phase's hundreds of boundary cases per operation are for the long run
    _config.projects.default.phases.update(phases=["examples", "fuzzing"])
schema = schemathesis.openapi.from_dict(create_app(None).openapi(), config=_config)
if not LONG:  # an RSA-3072 key per example is seconds each
    schema = schema.exclude(path="/v1/signing-keys", method="POST")


@dataclass
class Target:
    served: ServedInstance
    url: str
    session: requests.Session
    ca_file: str


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    folder: Path = tmp_path_factory.mktemp("fuzzed")
    served = ServedInstance(folder / "instance.sqlite3", limits=SignInLimits(limit=1_000_000))
    station = served.station
    station.create_batch("line")
    station.add_devices("line", [hashlib.sha256(f"fuzz-{n}".encode()).hexdigest() for n in range(50)])
    station.create_user("alice", "a long enough fuzz password", Role.ADMINISTRATOR)
    certificate = station.issue_server_certificate(["127.0.0.1"])
    ca_file = folder / "root.pem"
    ca_file.write_text(next(c.pem for c in station.certificates() if c.role == "root"))
    server = HttpsServer(create_app(served), bind(Listen("127.0.0.1", 0)), tls_context(certificate, folder))
    server.start()
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_file)
    try:
        yield Target(served, f"https://127.0.0.1:{server.port}", session, str(ca_file))
    finally:
        session.close()
        server.stop()
        served.close()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_no_request_gets_a_server_error(case: schemathesis.Case, target: Target) -> None:
    token = target.served.issue_token(None)
    headers = {"Authorization": f"Bearer {token}"}
    if case.headers and "Authorization" in case.headers:
        headers.pop("Authorization")  # a generated credential is tried as generated
    response = case.call(
        base_url=target.url, session=target.session, headers=headers, timeout=60, verify=target.ca_file
    )
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )
    if response.status_code >= 400 and response.content:
        error = response.json().get("error", {})
        assert error.get("message") and error.get("type"), (
            f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
        )
