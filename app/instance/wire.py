"""The JSON wire format of the `Instance` protocol: one codec for the server and the remote client.

Records are encoded from their dataclass fields, so a field added to a record crosses the wire without a
change here. Enums travel by value (the word the CLI uses), datetimes as ISO 8601 in UTC, bytes as
base64, tuples as JSON arrays. Decoding is driven by the type the receiver expects, and is strict: an
answer that does not fit its type is refused by name rather than passed on half-read.

Errors cross as `{"error": {"type": <class name>, "message": <text>}}` with an HTTP status chosen by
type (see `STATUS_OF`), so the client raises the same exception type with the same message as the local
instance would have.
"""

from __future__ import annotations

import base64
import dataclasses
import types
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar, Union, cast, get_args, get_origin, get_type_hints

from app.domain.chips import ChipType
from app.domain.errors import (
    ConflictError,
    DatabaseBusyError,
    InstanceUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    SecretUnavailableError,
    StationError,
    StorageError,
    ValidationError,
)
from app.domain.kinds import (
    BootloaderKind,
    ConnectionType,
    DeviceState,
    IefKind,
    ImageKind,
    KeyType,
    Role,
)

T = TypeVar("T")
Json = Any  # what json.loads returns: dict, list, str, int, float, bool or None

MEDIA_TYPE = "application/json"


class NotSignedInError(PermissionDeniedError):
    """The request carried no token, or one that expired or was signed out: sign in again (HTTP 401)."""


class TooManySignInsError(PermissionDeniedError):
    """Too many failed sign-ins for a user or from an address; wait, then try again (HTTP 429)."""


class RequestTooLargeError(ValidationError):
    """One request carries more than the server accepts in one go (HTTP 413); send it in parts."""


STATUS_OF: tuple[tuple[type[StationError], int], ...] = (
    # Most specific first: the first match decides.
    (NotSignedInError, 401),
    (TooManySignInsError, 429),
    (RequestTooLargeError, 413),
    (ValidationError, 422),
    (NotFoundError, 404),
    (ConflictError, 409),
    (PermissionDeniedError, 403),
    (SecretUnavailableError, 423),  # Locked: the key protecting private keys is not unlocked
    (DatabaseBusyError, 503),
    (InstanceUnavailableError, 503),
    (StorageError, 507),
)
"""HTTP status per error type. 423 means the instance cannot use its private keys until a person
unlocks them where the server runs; 503 means "retry later" (the engine queues pushes on it)."""

ERROR_TYPES: dict[str, type[StationError]] = {cls.__name__: cls for cls, _ in STATUS_OF} | {
    "StationError": StationError
}

ENUM_WORDS: dict[type[Enum], str] = {
    DeviceState: "device state",
    KeyType: "key type",
    Role: "role",
    ChipType: "device type",
    ImageKind: "image kind",
    BootloaderKind: "bootloader",
    IefKind: "IEF",
    ConnectionType: "connection type",
}
"""How the local instance names each vocabulary in its 'must be one of' messages."""


def status_of(error: StationError) -> int:
    for cls, status in STATUS_OF:
        if isinstance(error, cls):
            return status
    return 500


def error_body(error: StationError) -> dict[str, Json]:
    """The type is the nearest one a client knows: a server-side subclass (`DatabaseBusyError` of the
    instance database) is sent as the public type it derives from."""
    known = next(
        (c.__name__ for c in type(error).__mro__ if ERROR_TYPES.get(c.__name__) is c), "StationError"
    )
    return {"error": {"type": known, "message": str(error)}}


def error_from(status: int, body: Json, where: str) -> StationError:
    """The exception a response's error body describes; an unreadable one still gets a sentence."""
    detail = body.get("error") if isinstance(body, dict) else None
    if isinstance(detail, dict) and isinstance(detail.get("message"), str):
        message: str = detail["message"]
        cls = ERROR_TYPES.get(str(detail.get("type")))
        if cls is not None and (status < 500 or issubclass(cls, InstanceUnavailableError)):
            return cls(message)
        if status >= 500:
            return InstanceUnavailableError(f"the instance at {where} failed: {message}")
    if status >= 500:
        return InstanceUnavailableError(f"the instance at {where} answered HTTP {status}; try again later")
    if status == 401:
        return NotSignedInError(f"the instance at {where} needs you to sign in again")
    return StationError(f"the instance at {where} answered HTTP {status}, which this station does not expect")


# --- encoding ------------------------------------------------------------------------------------


def to_json(value: Any) -> Json:
    """Any record, enum, datetime, bytes, tuple or plain value as JSON-ready data."""
    return _encoder(value.__class__)(value)


Encoder = Callable[[Any], Json]


@cache
def _encoder(cls: Any) -> Encoder:
    """The writer for one class, decided once (a page of 200 records is 1,000 values of 5 classes)."""
    if cls is type(None) or issubclass(cls, bool | int | float | str):
        return _same
    if issubclass(cls, Enum):
        return _enum_value
    if issubclass(cls, datetime):
        return iso_utc
    if issubclass(cls, bytes):
        return _base64
    if dataclasses.is_dataclass(cls):
        names = tuple(f.name for f in dataclasses.fields(cls))
        return lambda value: {name: to_json(getattr(value, name)) for name in names}
    if issubclass(cls, list | tuple):
        return lambda value: [to_json(item) for item in value]
    return _no_form


def _same(value: Any) -> Json:
    return value


def _enum_value(value: Enum) -> Json:
    return value.value


def _base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _no_form(value: Any) -> Json:
    raise TypeError(f"{type(value).__name__} has no JSON form on the instance wire")


def iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("a naive datetime cannot cross the wire: its time zone is unknown")
    return moment.astimezone(UTC).isoformat()


def enum_argument(enum: type[Enum], value: object) -> Json:
    """An argument declared as `enum`, refused as the local instance refuses a value of another type."""
    if not isinstance(value, enum):
        words = ", ".join(str(m.value) for m in enum)
        raise ValidationError(f"{ENUM_WORDS.get(enum, enum.__name__)} must be one of {words}")
    return value.value


# --- decoding ------------------------------------------------------------------------------------


def from_json(tp: Any, data: Json, where: str = "value") -> Any:
    """`data` read as type `tp`; ValidationError naming the path (`where`) of the first misfit."""
    try:
        decode = _decoder(tp)
    except TypeError as exc:  # an unhashable type cannot be cached; no wire type is one
        raise TypeError(f"{tp!r} has no JSON form on the instance wire") from exc
    return decode(data, where)


Decoder = Callable[[Json, str], Any]


@cache
def _decoder(tp: Any) -> Decoder:
    """The reader for one type, worked out once: a page of 200 records reads the same types 200 times,
    and deciding what a type is costs more than reading a value of it."""
    origin = get_origin(tp)
    if tp is Any:
        return lambda data, where: data
    if hasattr(tp, "__supertype__"):  # NewType, e.g. DeviceID
        return _decoder(tp.__supertype__)
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        nullable = type(None) in options
        inner = [o for o in options if o is not type(None)]
        first = _decoder(inner[0]) if inner else _SIMPLE[type(None)]

        def union(data: Json, where: str) -> Any:
            return None if data is None and nullable else first(data, where)

        return union
    simple = _SIMPLE.get(tp)
    if simple is not None:
        return simple
    if isinstance(tp, type) and issubclass(tp, Enum):
        members = {member.value: member for member in tp}
        return lambda data, where: _enum(tp, members, data, where)
    if origin in (tuple, list, Sequence) or tp in (tuple, list):
        return _sequence_decoder(tp)
    if dataclasses.is_dataclass(origin or tp):
        return lambda data, where: _dataclass(tp, data, where)
    raise TypeError(f"{tp!r} has no JSON form on the instance wire")


def _float(data: Json, where: str) -> float:
    ok = isinstance(data, int | float) and not isinstance(data, bool)
    return cast(float, _expect(ok, float(data) if ok else data, where, "a number"))


_SIMPLE: dict[Any, Decoder] = {
    type(None): lambda data, where: _expect(data is None, None, where, "null"),
    bool: lambda data, where: _expect(isinstance(data, bool), data, where, "true or false"),
    int: lambda data, where: _expect(
        isinstance(data, int) and not isinstance(data, bool), data, where, "an integer"
    ),
    float: _float,
    str: lambda data, where: _expect(isinstance(data, str), data, where, "text"),
    bytes: lambda data, where: _bytes(data, where),
    datetime: lambda data, where: _datetime(data, where),
}


def _expect(ok: bool, value: Any, where: str, what: str) -> Any:
    if not ok:
        raise ValidationError(f"{where} must be {what}")
    return value


def _bytes(data: Json, where: str) -> bytes:
    _expect(isinstance(data, str), data, where, "base64 text")
    try:
        return base64.b64decode(data, validate=True)
    except ValueError:  # binascii.Error, or text that is not ASCII at all
        raise ValidationError(f"{where} is not valid base64") from None


def _datetime(data: Json, where: str) -> datetime:
    _expect(isinstance(data, str), data, where, "an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(data)
    except ValueError:
        raise ValidationError(f"{where} is not an ISO 8601 time: {data[:40]!r}") from None
    if moment.tzinfo is None:
        raise ValidationError(f"{where} has no time zone: {data[:40]!r}")
    return moment.astimezone(UTC)


def _enum(enum: type[Enum], members: dict[Any, Enum], data: Json, where: str) -> Enum:
    try:
        member = members.get(data)
    except TypeError:  # an unhashable value (a list, an object) is no member either
        member = None
    if member is None:
        words = ", ".join(str(m.value) for m in enum)
        raise ValidationError(f"{ENUM_WORDS.get(enum, where)} must be one of {words}")
    return member


def _sequence_decoder(tp: Any) -> Decoder:
    args = get_args(tp)
    as_list = get_origin(tp) is list

    def untyped(data: Json, where: str) -> tuple[Any, ...]:
        _expect(isinstance(data, list), data, where, "a list")
        return tuple(data)

    if not args:
        return untyped
    if get_origin(tp) is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        readers = [_decoder(a) for a in args]

        def fixed(data: Json, where: str) -> tuple[Any, ...]:
            _expect(isinstance(data, list), data, where, "a list")
            if len(data) != len(readers):
                raise ValidationError(f"{where} must have {len(readers)} items, not {len(data)}")
            return tuple(
                read(d, f"{where}[{i}]") for i, (read, d) in enumerate(zip(readers, data, strict=True))
            )

        return fixed
    read = _decoder(args[0])

    def items(data: Json, where: str) -> tuple[Any, ...] | list[Any]:
        _expect(isinstance(data, list), data, where, "a list")
        values = [read(d, f"{where}[{i}]") for i, d in enumerate(data)]
        return values if as_list else tuple(values)

    return items


def _dataclass(tp: Any, data: Json, where: str) -> Any:
    cls = get_origin(tp) or tp
    _expect(isinstance(data, dict), data, where, f"a {cls.__name__} object")
    values: dict[str, Any] = {}
    for name, read, required in _init_fields(tp):
        if name in data:
            values[name] = read(data[name], f"{where}.{name}")
        elif required:
            raise ValidationError(f"{where} has no {name!r}")
    return cls(**values)


@cache
def _init_fields(tp: Any) -> tuple[tuple[str, Decoder, bool], ...]:
    """(name, reader, required) of each init field, worked out once per type."""
    cls = get_origin(tp) or tp
    hints = _resolved_hints(tp)
    return tuple(
        (
            f.name,
            _decoder(hints[f.name]),
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in dataclasses.fields(cls)
        if f.init
    )


def _resolved_hints(tp: Any) -> dict[str, Any]:
    """Field types with a generic's parameters filled in (`Page[Batch]`: items is tuple[Batch, ...])."""
    cls = get_origin(tp) or tp
    hints = get_type_hints(cls)
    params = getattr(cls, "__parameters__", ())
    if not params or cls is tp:
        return hints
    mapping = dict(zip(params, get_args(tp), strict=True))
    return {name: _substitute(hint, mapping) for name, hint in hints.items()}


def _substitute(hint: Any, mapping: dict[Any, Any]) -> Any:
    if hint in mapping:
        return mapping[hint]
    args = get_args(hint)
    if not args:
        return hint
    origin = get_origin(hint)
    new_args = tuple(a if a is Ellipsis else _substitute(a, mapping) for a in args)
    if origin in (Union, types.UnionType):
        return Union[new_args]  # noqa: UP007
    return cast(Any, origin)[new_args]


# --- JSON Schema (for the OpenAPI document) ------------------------------------------------------


def schema_of(tp: Any, defs: dict[str, Json]) -> Json:
    """A JSON Schema for `tp`; named records go into `defs` (OpenAPI `components/schemas`)."""
    origin = get_origin(tp)
    if tp is Any:
        return {}
    if hasattr(tp, "__supertype__"):
        return schema_of(tp.__supertype__, defs)
    if origin in (Union, types.UnionType):
        options = [o for o in get_args(tp) if o is not type(None)]
        inner = (
            schema_of(options[0], defs)
            if len(options) == 1
            else {"anyOf": [schema_of(o, defs) for o in options]}
        )
        return {"anyOf": [inner, {"type": "null"}]} if type(None) in get_args(tp) else inner
    if tp is None or tp is type(None):
        return {"type": "null"}
    simple = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if tp in simple:
        return {"type": simple[tp]}
    if tp is bytes:
        return {"type": "string", "contentEncoding": "base64"}
    if tp is datetime:
        return {"type": "string", "format": "date-time"}
    if isinstance(tp, type) and issubclass(tp, Enum):
        return {"type": "string", "enum": [m.value for m in tp]}
    if origin in (tuple, list, Sequence):
        args = get_args(tp)
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            items = [schema_of(a, defs) for a in args]
            return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}
        return {"type": "array", "items": schema_of(args[0], defs) if args else {}}
    cls = origin or tp
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
        name = cls.__name__ + "".join(getattr(a, "__name__", "") for a in get_args(tp))
        if name not in defs:
            defs[name] = {}  # a placeholder stops recursion
            hints = _resolved_hints(tp)
            fields = [f for f in dataclasses.fields(cls) if f.init]
            defs[name] = {
                "type": "object",
                "title": name,
                "properties": {f.name: schema_of(hints[f.name], defs) for f in fields},
                "required": [
                    f.name
                    for f in fields
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                ],
            }
        return {"$ref": f"#/components/schemas/{name}"}
    raise TypeError(f"{tp!r} has no JSON form on the instance wire")
