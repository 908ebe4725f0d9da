"""The HTTP API: one resource per `Instance` method (see `app.instance.remote.routes`), plus sign-in
and the administrators' API tokens (`app.instance.api_tokens`).

Each request is read into the method's arguments with the shared codec, run on the acting user's
instance in a worker thread (the event loop never waits on SQLite or on signing), and answered with the
result in the same codec. Person-facing errors leave as `{"error": {"type", "message"}}` with the status
`app.instance.wire.STATUS_OF` gives their type; a 503 (the database busy with another write past the
busy timeout) carries `Retry-After`. The caller's token is checked before its body is read.

`add_devices` and `move_devices` honour an `Idempotency-Key` header: the first successful answer is
kept (per user, method and key) in the instance database, in the transaction of the change, and a retry
with the same key and the same body gets it again without running the call; the same key with another
body is a conflict. Failed calls are not kept, so a retry after "busy" or "no such batch" is tried
afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import __version__
from app.domain.errors import (
    InstanceUnavailableError,
    PermissionDeniedError,
    StationError,
    ValidationError,
)
from app.instance.local.idempotency import Keyed, KeyedRequest
from app.instance.local.instance import LocalInstance
from app.instance.remote.arguments import decode_body, decode_query
from app.instance.remote.routes import (
    IDEMPOTENCY_HEADER,
    MAX_BODY_BYTES,
    MAX_IDS_PER_REQUEST,
    ROOT_CA_PATH,
    SESSION_PATH,
    Route,
    routes,
    token_routes,
)
from app.instance.wire import (
    MEDIA_TYPE,
    NotSignedInError,
    RequestTooLargeError,
    error_body,
    status_of,
    to_json,
)
from app.server.api_tokens import ServedApiTokens
from app.server.openapi_document import openapi_document, operation_extra, session_extra
from app.server.served_instance import ServedInstance

log = logging.getLogger(__name__)
REPLAYED_HEADER = "Idempotent-Replayed"

Endpoint = Callable[[Request], Awaitable[Response]]


def create_app(
    served: ServedInstance | None, *, max_ids: int = MAX_IDS_PER_REQUEST, max_body_bytes: int = MAX_BODY_BYTES
) -> FastAPI:
    app = FastAPI(
        title="QuarkLink Provisioning Station instance API",
        version=__version__,
        description="The Instance protocol of ql-station over HTTPS. Sign in with POST /v1/session.",
        docs_url=None,
        redoc_url=None,
    )
    app.add_exception_handler(StationError, _station_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    limits = _Limits(max_ids, max_body_bytes)
    app.add_api_route(
        SESSION_PATH,
        _sign_in(served, limits),
        methods=["POST"],
        name="sign_in",
        openapi_extra=session_extra(),
    )
    app.add_api_route(SESSION_PATH, _sign_out(served), methods=["DELETE"], name="sign_out", status_code=204)
    app.add_api_route(
        ROOT_CA_PATH, _root_ca(served), methods=["GET"], name="root_ca", openapi_extra=_ROOT_CA_EXTRA
    )
    for route in (*routes(), *token_routes()):
        app.add_api_route(
            route.path,
            _endpoint(served, route, limits),
            methods=[route.verb],
            name=route.method,
            summary=route.method.replace("_", " "),
            openapi_extra=operation_extra(route),
        )

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi_document(app)
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]
    return app


def _serving(served: ServedInstance | None) -> ServedInstance:
    if served is None:
        raise InstanceUnavailableError("this server only describes the API; it serves no instance")
    return served


class _Limits:
    def __init__(self, max_ids: int, max_body_bytes: int) -> None:
        self.max_ids = max_ids
        self.max_body_bytes = max_body_bytes


RETRY_AFTER_S = 2
"""What a 503 tells a client to wait: long enough for a push to finish, short for a person."""


def _station_error(_request: Request, error: StationError) -> JSONResponse:
    status = status_of(error)
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    return JSONResponse(error_body(error), status_code=status, headers=headers)


def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    """Starlette's own refusals (no such path, a verb a path does not take) in the API's error shape."""
    if error.status_code == 404:
        message = f"there is no {request.url.path!r} on this server; see /openapi.json"
        kind = "NotFoundError"
    elif error.status_code == 405:
        allowed = error.headers.get("Allow", "") if error.headers else ""
        message = (
            f"{request.method} is not allowed on {request.url.path!r}; it takes {allowed or 'no method'}"
        )
        kind = "StationError"
    else:
        message, kind = str(error.detail), "StationError"
    return JSONResponse(
        {"error": {"type": kind, "message": message}}, status_code=error.status_code, headers=error.headers
    )


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotSignedInError("this request carries no sign-in token; sign in first (POST /v1/session)")
    return token.strip()


async def _body(request: Request, limits: _Limits) -> bytes:
    too_large = RequestTooLargeError(
        f"the request body is larger than the {limits.max_body_bytes:,} bytes the server reads at once; "
        "send it in parts"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_body_bytes:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limits.max_body_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(f"the request body is not JSON: {exc}") from None


def _answer(result: Any) -> Response:
    return Response(json.dumps(to_json(result), ensure_ascii=False), media_type=MEDIA_TYPE)


def _endpoint(served: ServedInstance | None, route: Route, limits: _Limits) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        token = _bearer(request)
        # Who is asking comes first: a stranger's body is never read, let alone parsed.
        actor = _serving(served).cached_actor_of(token)
        if actor is None:
            actor = await run_in_threadpool(_serving(served).actor_of, token)
        raw = b"" if route.in_query else await _body(request, limits)
        key = request.headers.get(IDEMPOTENCY_HEADER) if route.idempotent else None

        def call() -> Response:
            # Parsing a 200,000-ID body takes a while: done here, off the event loop.
            if route.in_query:
                arguments = decode_query(route, request.query_params)
            else:
                arguments = decode_body(route, _json(raw))
            ids = arguments.get("device_ids")
            if isinstance(ids, list) and len(ids) > limits.max_ids:
                raise RequestTooLargeError(
                    f"this request carries {len(ids):,} device IDs; the server takes at most "
                    f"{limits.max_ids:,} per request: send them in parts"
                )
            instance = _serving(served).instance_for(actor)
            if route in token_routes():
                tokens = ServedApiTokens(_serving(served).tokens, instance)
                return _answer(getattr(tokens, route.method)(**arguments))
            if key is None:
                return _answer(getattr(instance, route.method)(**arguments))
            return _keyed_call(route, instance, key, raw, arguments)

        return await run_in_threadpool(call)

    return endpoint


def _keyed_call(
    route: Route, instance: LocalInstance, key: str, raw: bytes, arguments: dict[str, Any]
) -> Response:
    """The change and its remembered answer commit in one transaction of the instance database, so
    a retry after any crash finds either the answer or nothing changed (see `idempotency`)."""
    request = KeyedRequest(key, hashlib.sha256(raw).digest())
    once = getattr(instance, f"{route.method}_once")
    answer: Keyed[Any] = once(**arguments, request=request)
    response = _answer(answer.result)
    if answer.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response


def _sign_in(served: ServedInstance | None, limits: _Limits) -> Endpoint:
    async def sign_in(request: Request) -> Response:
        body = _json(await _body(request, limits))
        if not isinstance(body, dict):
            raise ValidationError("sign in with a JSON object holding username and password")
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise ValidationError("sign in with a username and a password, both text")
        address = request.client.host if request.client else "unknown"

        def call() -> Response:
            try:
                token = _serving(served).sign_in(username, password, address)
            except PermissionDeniedError as exc:
                if type(exc) is PermissionDeniedError:  # a wrong name or password: 401, not 403
                    raise NotSignedInError(str(exc)) from None
                raise
            actor = _serving(served).actor_of(token)
            return JSONResponse({"token": token, "username": actor}, status_code=201)

        return await run_in_threadpool(call)

    return sign_in


def _sign_out(served: ServedInstance | None) -> Endpoint:
    async def sign_out(request: Request) -> Response:
        token = _bearer(request)
        await run_in_threadpool(_serving(served).tokens.revoke, token)
        return Response(status_code=204)

    return sign_out


_ROOT_CA_EXTRA: dict[str, Any] = {
    "description": "The instance's root CA certificate, without signing in: a station pairs with it "
    "after a person confirms its SHA-256 fingerprint (ql-station instance connect).",
    "responses": {
        "200": {
            "description": "the root CA",
            "content": {
                MEDIA_TYPE: {
                    "schema": {
                        "type": "object",
                        "properties": {"pem": {"type": "string"}, "fingerprint_sha256": {"type": "string"}},
                        "required": ["pem", "fingerprint_sha256"],
                    }
                }
            },
        }
    },
}


def _root_ca(served: ServedInstance | None) -> Endpoint:
    """Public by design: a root CA certificate is no secret, and a client needs it before it trusts."""

    async def root_ca(_request: Request) -> Response:
        root = next(c for c in _serving(served).station.certificates() if c.role == "root")
        return JSONResponse(
            {"pem": root.pem, "fingerprint_sha256": root.fingerprint_sha256}, media_type=MEDIA_TYPE
        )

    return root_ca
