"""The wire codec: every record crosses and comes back equal; errors keep their type and message."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from app.domain.chips import ChipType
from app.domain.device_id import DeviceID
from app.domain.errors import (
    ConflictError,
    DatabaseBusyError,
    InstanceUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    SecretUnavailableError,
    StationError,
    ValidationError,
)
from app.domain.kinds import BootloaderKind, DeviceState, HealthLevel, IefKind, ImageKind, KeyType, Role
from app.domain.records import (
    ActivityEntry,
    AddDevicesResult,
    Batch,
    CertificateCounts,
    ComponentHealth,
    DashboardSummary,
    Device,
    DeviceCounts,
    FlashImage,
    InstanceInfo,
    Page,
    PageRequest,
    TaskImages,
    User,
)
from app.instance.remote.routes import NOT_SERVED, routes
from app.instance.wire import (
    NotSignedInError,
    error_body,
    error_from,
    from_json,
    schema_of,
    status_of,
    to_json,
)

AT = datetime(2025, 3, 4, 5, 6, 7, 123000, tzinfo=UTC)
ID = DeviceID("ab" * 32)


def _across(tp: Any, value: Any) -> Any:
    """Through JSON text and back, as over HTTP."""
    return from_json(tp, json.loads(json.dumps(to_json(value))))


@pytest.mark.parametrize(
    ("tp", "value"),
    [
        (Page[Batch], Page((Batch("b", "p", AT, DeviceCounts(1, 2, 3, 4, 5), "fw", (("k", "v"),)),), 7, 3)),
        (Page[Device], Page((Device(ID, "b", DeviceState.ENROLLED, AT),), 1, 0)),
        (Device | None, None),
        (AddDevicesResult, AddDevicesResult(3, 1, 2, (ID,), ((ID, "other"),))),
        (
            TaskImages,
            TaskImages(
                "t",
                ChipType.ESP32C3,
                BootloaderKind.DEV,
                "00" * 32,
                (FlashImage(0, ImageKind.BOOTLOADER, "bl", b"\x00\xff" * 10, "aa"),),
            ),
        ),
        (Page[User], Page((User("alice", Role.ADMINISTRATOR, AT),), 1, 0)),
        (InstanceInfo, InstanceInfo("n", "local", "/x", "1", "station", Role.CONTRIBUTOR)),
        (
            DashboardSummary,
            DashboardSummary(
                (ComponentHealth("HSM", HealthLevel.DEGRADED, 3, 5, "d"),),
                DeviceCounts(registered=2),
                CertificateCounts(1, 2, 3),
                (ActivityEntry(1, AT, "a", "b", "c", "d"),),
            ),
        ),
        (int, 5),
        (tuple[str, ...], ("a", "b")),
    ],
)
def test_records_come_back_equal(tp: Any, value: Any) -> None:
    assert _across(tp, value) == value


def test_the_forms_on_the_wire_are_the_documented_ones() -> None:
    device = to_json(Device(ID, "b", DeviceState.ENROLLED, AT))
    assert device == {
        "device_id": ID,
        "batch": "b",
        "state": "enrolled",
        "added_at": "2025-03-04T05:06:07.123000+00:00",
        "firmware": "",  # the version it last reported when it enrolled; empty until then
    }
    assert to_json(FlashImage(0, ImageKind.IEF, "i", b"\x01\x02"))["data"] == "AQI="
    assert to_json((KeyType.RSA_3072, IefKind.NON_DEBUG)) == ["rsa-3072", "non-debug"]


def test_times_are_sent_in_utc_and_read_from_any_offset() -> None:
    local = AT.astimezone(timezone(timedelta(hours=2)))
    assert to_json(local) == "2025-03-04T05:06:07.123000+00:00"
    assert from_json(datetime, "2025-03-04T07:06:07.123+02:00") == AT
    with pytest.raises(ValidationError, match="has no time zone"):
        from_json(datetime, "2025-03-04T05:06:07")
    with pytest.raises(ValueError, match="naive datetime"):
        to_json(datetime(2025, 1, 1))


@pytest.mark.parametrize(
    ("tp", "data", "message"),
    [
        (Page[User], {"items": [], "total": "1", "offset": 0}, r"answer.total must be an integer"),
        (
            Page[User],
            {
                "items": [{"username": "a", "role": "boss", "created_at": "2025-01-01T00:00:00Z"}],
                "total": 1,
                "offset": 0,
            },
            "role must be one of administrator, contributor",
        ),
        (User, {"username": "a", "role": "contributor"}, "answer has no 'created_at'"),
        (
            FlashImage,
            {"offset": 0, "kind": "ief", "name": "n", "data": "%%%"},
            "answer.data is not valid base64",
        ),
        (int, True, "must be an integer"),
        (tuple[str, str], ["a"], "must have 2 items, not 1"),
    ],
)
def test_a_misfit_is_named_by_its_path(tp: Any, data: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        from_json(tp, data, "answer")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ValidationError("device #2: bad"), 422),
        (NotFoundError("there is no batch named 'x'"), 404),
        (ConflictError("exists"), 409),
        (PermissionDeniedError("'bob' is a contributor"), 403),
        (NotSignedInError("sign in"), 401),
        (SecretUnavailableError("no passphrase"), 423),
        (DatabaseBusyError("busy"), 503),
        (InstanceUnavailableError("down"), 503),
    ],
)
def test_errors_cross_with_their_type_and_message(error: StationError, status: int) -> None:
    assert status_of(error) == status
    body = json.loads(json.dumps(error_body(error)))
    back = error_from(status, body, "https://x")
    assert (type(back), str(back)) == (type(error), str(error))


def test_an_unreadable_error_still_gets_a_sentence_and_5xx_means_unavailable() -> None:
    assert isinstance(error_from(502, None, "https://x"), InstanceUnavailableError)
    assert isinstance(
        error_from(500, error_body(ValidationError("v")), "https://x"), InstanceUnavailableError
    )
    assert isinstance(error_from(401, {"detail": "x"}, "https://x"), NotSignedInError)
    teapot = error_from(418, "nonsense", "https://x")
    assert type(teapot) is StationError
    assert "HTTP 418" in str(teapot)


def test_every_protocol_method_has_a_route_and_a_schema() -> None:
    from app.instance.api import Instance

    methods = {name for name in vars(Instance) if not name.startswith("_")} - NOT_SERVED
    assert {route.method for route in routes()} == methods
    defs: dict[str, Any] = {}
    for route in routes():
        schema_of(route.result, defs)
        for argument in route.arguments:
            schema_of(argument.type, defs)
    assert "PageBatch" in defs
    assert defs["PageBatch"]["properties"]["items"]["items"] == {"$ref": "#/components/schemas/Batch"}
    assert PageRequest.__name__ in defs
