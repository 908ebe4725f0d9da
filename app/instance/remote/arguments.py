"""A method call's arguments as a request (client side) and back (server side).

The client checks what it can know without asking: an argument declared as an enum must be a member, as
the local instance checks it, with the same sentence. Lists are sent as they were given, so the instance
itself judges their items (`device #2: ...`, `attribute filter #0 must be a (key, value) pair`) and the
person sees the message the local instance would have given.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any, Union, get_args, get_origin

from app.domain.errors import ValidationError
from app.domain.records import PageRequest
from app.instance.remote.routes import Route
from app.instance.wire import Json, enum_argument, from_json, to_json

PAGE_FIELDS = ("offset", "limit", "search")


def _enum_of(tp: Any) -> type[Enum] | None:
    """The enum an argument is declared as (also `Enum | None`), or None."""
    options = get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)
    for option in options:
        if isinstance(option, type) and issubclass(option, Enum):
            return option
    return None


def _is_sequence(tp: Any) -> bool:
    return get_origin(tp) in (Sequence, list, tuple)


def bind(route: Route, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Positional and keyword arguments by name, defaults filled in, as a call to the protocol binds them."""
    names = [a.name for a in route.arguments]
    if len(args) > len(names):
        raise TypeError(f"{route.method}() takes {len(names)} arguments, {len(args)} given")
    bound = dict(zip(names, args, strict=False))
    for name, value in kwargs.items():
        if name not in names or name in bound:
            raise TypeError(f"{route.method}() got an unexpected or repeated argument {name!r}")
        bound[name] = value
    for argument in route.arguments:
        if argument.name not in bound:
            if argument.required:
                raise TypeError(f"{route.method}() is missing the argument {argument.name!r}")
            bound[argument.name] = argument.default
    return bound


def encode(route: Route, bound: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Json] | None]:
    """(query parameters, JSON body or None) for a call."""
    values: dict[str, Json] = {}
    for argument in route.arguments:
        value = bound[argument.name]
        enum = _enum_of(argument.type)
        if argument.type is PageRequest:
            values.update({name: getattr(value, name) for name in PAGE_FIELDS})
        elif enum is not None and not (value is None and argument.default is None):
            values[argument.name] = enum_argument(enum, value)
        else:
            values[argument.name] = to_json(value)
    if not route.in_query:
        return {}, values
    return {name: str(value) for name, value in values.items() if value is not None}, None


def decode_query(route: Route, query: Mapping[str, str]) -> dict[str, Any]:
    """The arguments of a GET or DELETE from its query string."""
    raw: dict[str, Json] = {}
    for argument in route.arguments:
        if argument.type is PageRequest:
            raw.update({name: query[name] for name in PAGE_FIELDS if name in query})
        elif argument.name in query:
            raw[argument.name] = query[argument.name]
    for name in ("offset", "limit"):
        if name in raw:
            raw[name] = _query_int(name, raw[name])
    return _decode(route, raw)


def decode_body(route: Route, body: Json) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationError(f"the body of {route.verb} {route.path} must be a JSON object")
    return _decode(route, body)


def _decode(route: Route, raw: Mapping[str, Json]) -> dict[str, Any]:
    known = {a.name for a in route.arguments} | (set(PAGE_FIELDS) if route.paged else set())
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValidationError(f"{route.method} takes no argument {unknown[0]!r}")
    decoded: dict[str, Any] = {}
    for argument in route.arguments:
        if argument.type is PageRequest:
            page = {name: raw[name] for name in PAGE_FIELDS if name in raw}
            decoded[argument.name] = from_json(PageRequest, page, "page")
        elif argument.name not in raw:
            if argument.required:
                raise ValidationError(f"{route.method} needs the argument {argument.name!r}")
            decoded[argument.name] = argument.default
        elif _is_sequence(argument.type):
            decoded[argument.name] = _as_given(raw[argument.name])
        else:
            decoded[argument.name] = from_json(argument.type, raw[argument.name], argument.name)
    return decoded


def _as_given(value: Json) -> Any:
    """A list as the caller gave it (inner lists as tuples): the instance judges its items itself."""
    if isinstance(value, list):
        return [tuple(_as_given(v) for v in item) if isinstance(item, list) else item for item in value]
    return value


def _query_int(name: str, text: Json) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValidationError(f"{name} must be a whole number; got {str(text)[:40]!r}") from None


def result_from(route: Route, data: Json) -> Any:
    """A response body read as the method's declared result."""
    if route.result is None or route.result is type(None):
        return None
    return from_json(route.result, data, "the answer")
