"""The HTTP shape of the `Instance` protocol: one resource per method, read by the server and the client.

Both ends are built from this one table, and the argument and result types come from the protocol's
own signatures, so the server and the client cannot disagree about a path, a verb or a type.

Names (batch, policy, key, task, user) travel in the query string of a GET or in the JSON body, never in the
path: a name may hold '/', '%' or spaces at its ends, which a path would mangle or route elsewhere.
Every listing takes `offset`, `limit` and `search` exactly as `PageRequest` has them.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from functools import cache
from typing import Any, get_type_hints

from app.domain.records import PageRequest
from app.instance.api import Instance
from app.instance.api_tokens import ApiTokenAdmin

API_PREFIX = "/v1"
SESSION_PATH = f"{API_PREFIX}/session"
ROOT_CA_PATH = f"{API_PREFIX}/root-ca"  # unauthenticated: what a station pairs with (see pairing.py)
IDEMPOTENCY_HEADER = "Idempotency-Key"

MAX_IDS_PER_REQUEST = 200_000
"""Device IDs the server takes in one add or move request (413 with a sentence above it)."""
IDS_PER_PART = 100_000
"""Device IDs the client sends per request of a longer list. Smaller than the server's limit on
purpose: encoding or parsing 200,000 IDs holds the interpreter for ~150 ms at either end, and every
other request of that process (a second station's dashboard) would wait that long."""
MAX_BODY_BYTES = 32 * 1024 * 1024
"""The largest request body the server reads (200,000 IDs are ~13.4 MB of JSON; an image is 16 MiB)."""


@dataclass(frozen=True)
class Argument:
    name: str
    type: Any
    default: Any = inspect.Parameter.empty

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty


@dataclass(frozen=True)
class Route:
    method: str  # the Instance method name
    verb: str
    path: str
    idempotent: bool = False  # accepts an Idempotency-Key header
    arguments: tuple[Argument, ...] = field(default=(), compare=False)
    result: Any = field(default=None, compare=False)

    @property
    def in_query(self) -> bool:
        """GET and DELETE carry their arguments in the query string, the others in a JSON body."""
        return self.verb in ("GET", "DELETE")

    @property
    def paged(self) -> bool:
        return any(a.type is PageRequest for a in self.arguments)


_TABLE: tuple[tuple[str, str, str], ...] = (
    ("info", "GET", "/info"),
    ("dashboard_summary", "GET", "/dashboard"),
    ("create_batch", "POST", "/batches"),
    ("list_batches", "GET", "/batches"),
    ("get_batch", "GET", "/batch"),
    ("delete_batch", "DELETE", "/batch"),
    ("set_batch_policy", "PUT", "/batch/policy"),
    ("add_devices", "POST", "/batch/devices"),
    ("list_devices", "GET", "/batch/devices"),
    ("find_device", "GET", "/device"),
    ("move_devices", "POST", "/batch/moved-devices"),
    ("set_device_state", "POST", "/device-states"),
    ("device_certificate", "GET", "/device/certificate"),
    ("device_certificates", "POST", "/device-certificates"),  # a page of IDs: a body, not a query
    ("renew_device", "POST", "/device/renewal"),
    ("create_policy", "POST", "/policies"),
    ("list_policies", "GET", "/policies"),
    ("get_policy", "GET", "/policy"),
    ("update_policy", "PUT", "/policy"),
    ("delete_policy", "DELETE", "/policy"),
    ("certificates", "GET", "/certificates"),
    ("instance_params", "GET", "/instance-params"),
    ("set_instance_params", "PUT", "/instance-params"),
    ("create_signing_key", "POST", "/signing-keys"),
    ("list_signing_keys", "GET", "/signing-keys"),
    ("get_signing_key", "GET", "/signing-key"),
    ("import_image", "POST", "/images"),
    ("list_images", "GET", "/images"),
    ("upload_firmware", "POST", "/firmwares"),
    ("list_firmwares", "GET", "/firmwares"),
    ("get_firmware", "GET", "/firmware"),
    ("delete_firmware", "DELETE", "/firmware"),
    ("set_batch_firmware", "PUT", "/batch/firmware"),
    ("create_task", "POST", "/tasks"),
    ("list_tasks", "GET", "/tasks"),
    ("get_task", "GET", "/task"),
    ("update_task", "PUT", "/task"),
    ("delete_task", "DELETE", "/task"),
    ("task_images", "POST", "/task/signed-images"),  # signs, and logs that it did: not a plain read
    ("create_user", "POST", "/users"),
    ("list_users", "GET", "/users"),
    ("set_user_role", "PUT", "/user/role"),
    ("delete_user", "DELETE", "/user"),
    ("list_activity", "GET", "/activity"),
    ("discard_device_push", "POST", "/discarded-pushes"),
)
_TOKEN_TABLE: tuple[tuple[str, str, str], ...] = (
    ("create_api_token", "POST", "/api-tokens"),
    ("list_api_tokens", "GET", "/api-tokens"),
    ("revoke_api_token", "DELETE", "/api-token"),
)
"""`ApiTokenAdmin`: served beside the instance, not part of it (see `app.instance.api_tokens`)."""
_IDEMPOTENT = frozenset({"add_devices", "move_devices"})
NOT_SERVED = frozenset({"close"})  # closing a client closes its connections, not the instance


def _route(method: str, verb: str, path: str, protocol: type = Instance) -> Route:
    function = getattr(protocol, method)
    hints = get_type_hints(function)
    arguments = tuple(
        Argument(p.name, hints[p.name], p.default)
        for p in inspect.signature(function).parameters.values()
        if p.name != "self"
    )
    return Route(method, verb, API_PREFIX + path, method in _IDEMPOTENT, arguments, hints["return"])


@cache
def routes() -> tuple[Route, ...]:
    return tuple(_route(*row) for row in _TABLE)


@cache
def token_routes() -> tuple[Route, ...]:
    return tuple(_route(*row, protocol=ApiTokenAdmin) for row in _TOKEN_TABLE)


@cache
def route_of(method: str) -> Route:
    for route in (*routes(), *token_routes()):
        if route.method == method:
            return route
    raise KeyError(method)
