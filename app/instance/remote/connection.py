"""One HTTPS connection pool to a served instance, trusting only the root CA it was paired with.

`trust_env` is off and `verify` is the paired CA file on the session and on every request, so neither
`REQUESTS_CA_BUNDLE` nor a proxy from the environment can swap the trust anchor; there is no option to
turn verification off. Failures become the station's typed errors: no answer, a refused connection, a
certificate the paired CA did not issue, or a 5xx are `InstanceUnavailableError` (nothing new was
learnt, so the engine queues and retries); error bodies become the exception the server raised.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from app.domain.errors import InstanceUnavailableError
from app.instance.wire import MEDIA_TYPE, Json, error_from

DEFAULT_CONNECT_TIMEOUT_S = 5.0
DEFAULT_READ_TIMEOUT_S = 120.0  # a 200,000-ID import or an RSA-3072 key is seconds, not minutes


class UntrustedInstanceError(InstanceUnavailableError):
    """The server's certificate is not issued by the paired root CA: nothing was sent to it."""


class Connection:
    def __init__(
        self,
        base_url: str,
        ca_file: Path,
        *,
        token: str | None = None,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
    ) -> None:
        if not base_url.startswith("https://"):
            raise ValueError(f"an instance is reached over HTTPS only; got {base_url!r}")
        if not Path(ca_file).is_file():
            raise InstanceUnavailableError(
                f"the paired root CA file {ca_file} is missing; pair the instance again"
            )
        self.base_url = base_url.rstrip("/")
        self._verify = str(ca_file)
        self._timeout = (connect_timeout_s, read_timeout_s)
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.verify = self._verify
        self._session.mount("https://", HTTPAdapter(pool_connections=1, pool_maxsize=8))
        self._session.headers["Accept"] = MEDIA_TYPE
        self.token = token

    def close(self) -> None:
        self._session.close()

    def request(
        self,
        verb: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Json = None,
        headers: dict[str, str] | None = None,
        with_token: bool = True,
    ) -> Json:
        """The decoded JSON answer (None for an empty one); raises the typed error of a failure."""
        sent = dict(headers or {})
        if with_token and self.token is not None:
            sent["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            sent["Content-Type"] = MEDIA_TYPE
        try:
            response = self._session.request(
                verb,
                self.base_url + path,
                params=query,
                data=data,
                headers=sent,
                timeout=self._timeout,
                verify=self._verify,
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as exc:
            raise UntrustedInstanceError(
                f"the server at {self.base_url} is not the paired instance, or its certificate is not valid "
                f"for this address: {_reason(exc)}"
            ) from None
        except requests.exceptions.Timeout:
            raise InstanceUnavailableError(
                f"the instance at {self.base_url} did not answer within {self._timeout[1]:.0f} s"
            ) from None
        except requests.exceptions.ConnectionError as exc:
            raise InstanceUnavailableError(
                f"cannot reach the instance at {self.base_url}: {_reason(exc)}"
            ) from None
        except requests.exceptions.RequestException as exc:  # the link broke mid-answer (chunked body cut)
            raise InstanceUnavailableError(
                f"the connection to the instance at {self.base_url} broke during its answer: {_reason(exc)}"
            ) from None
        status, content = response.status_code, response.content
        # An error's traceback holds this frame; holding the response too would keep its socket open
        # after close() until the garbage collector ran, and a server stopping would wait for it.
        del response
        return self._answer(status, content)

    def _answer(self, status: int, content: bytes) -> Json:
        try:
            decoded: Any = json.loads(content) if content else None
        except ValueError:
            decoded = _NOT_JSON
        if status >= 400:
            raise error_from(status, decoded, self.base_url)
        if decoded is _NOT_JSON:
            raise InstanceUnavailableError(
                f"the server at {self.base_url} answered something that is not JSON; "
                "is it a ql-station server?"
            )
        return decoded


_NOT_JSON = object()


def _reason(exc: Exception) -> str:
    """The innermost cause's words (urllib3 wraps them three deep), short enough for a status bar."""
    text = str(exc)
    for marker in ("[SSL: ", "Connection refused", "Name or service not known", "timed out"):
        start = text.find(marker)
        if start >= 0:
            return text[start:].split("')")[0].split('"))')[0][:200]
    return text[:200]
