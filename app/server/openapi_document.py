"""The OpenAPI document of the API, built from the route table and the codec's JSON Schemas.

The endpoints read their arguments themselves (one codec for both ends), so FastAPI cannot see their
shapes; this module describes each operation from the same `Route` the server and the client use, and
the record schemas come from `app.instance.wire.schema_of`. The document is committed as
docs/openapi.json; `python -m app.server.openapi_file` writes it afresh.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.domain.records import PageRequest
from app.instance.remote.arguments import PAGE_FIELDS
from app.instance.remote.routes import IDEMPOTENCY_HEADER, Route
from app.instance.wire import MEDIA_TYPE, STATUS_OF, Json, schema_of

_DEFS: dict[str, Json] = {}
_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_ERROR_SCHEMA = {
    "type": "object",
    "title": "ErrorBody",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "description": "the exception class the client raises"},
                "message": {"type": "string", "description": "the sentence for a person"},
            },
            "required": ["type", "message"],
        }
    },
    "required": ["error"],
}
_PAGE_SCHEMAS = {
    "offset": {"type": "integer", "minimum": 0, "default": 0},
    "limit": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 200},
    "search": {"type": "string", "default": ""},
}


def _json_content(schema: Json) -> dict[str, Json]:
    return {MEDIA_TYPE: {"schema": schema}}


def _errors() -> dict[str, Json]:
    described: dict[str, Json] = {}
    for cls, status in STATUS_OF:
        entry = described.setdefault(str(status), {"description": "", "content": _json_content(_ERROR_REF)})
        entry["description"] = " or ".join(filter(None, [entry["description"], cls.__name__]))
    return described


def operation_extra(route: Route) -> dict[str, Json]:
    """What FastAPI cannot infer for one operation: parameters, body, result and errors."""
    extra: dict[str, Json] = {"security": [{"bearer": []}]}
    described: list[Json] = []
    properties: dict[str, Json] = {}
    required: list[str] = []
    for argument in route.arguments:
        if argument.type is PageRequest:
            described += [
                {"name": n, "in": "query", "required": False, "schema": _PAGE_SCHEMAS[n]} for n in PAGE_FIELDS
            ]
            continue
        schema = schema_of(argument.type, _DEFS)
        if route.in_query:
            described.append(
                {"name": argument.name, "in": "query", "required": argument.required, "schema": schema}
            )
        else:
            properties[argument.name] = schema
            if argument.required:
                required.append(argument.name)
    if route.idempotent:
        described.append(
            {
                "name": IDEMPOTENCY_HEADER,
                "in": "header",
                "required": False,
                "description": "a retry with this key and body returns the first result, changing nothing",
                "schema": {"type": "string", "maxLength": 255},
            }
        )
    if described:
        extra["parameters"] = described
    if not route.in_query:
        body = {"type": "object", "properties": properties, "required": required}
        extra["requestBody"] = {"required": True, "content": _json_content(body)}
    result = route.result
    ok = schema_of(result, _DEFS)
    extra["responses"] = {"200": {"description": "the result", "content": _json_content(ok)}} | _errors()
    return extra


def session_extra() -> dict[str, Json]:
    body = {
        "type": "object",
        "properties": {"username": {"type": "string"}, "password": {"type": "string", "format": "password"}},
        "required": ["username", "password"],
    }
    token = {
        "type": "object",
        "properties": {"token": {"type": "string"}, "username": {"type": "string"}},
        "required": ["token", "username"],
    }
    return {
        "requestBody": {"required": True, "content": _json_content(body)},
        "responses": {"201": {"description": "signed in", "content": _json_content(token)}} | _errors(),
    }


def openapi_document(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(dict(sorted(_DEFS.items())) | {"ErrorBody": _ERROR_SCHEMA})
    components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return document
