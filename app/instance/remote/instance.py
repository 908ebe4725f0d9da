"""`RemoteInstance`: the `Instance` protocol over HTTPS to a `ql-station serve` server.

Each method is one request built from the shared route table and codec, so it raises the same typed
errors with the same messages as the local instance. Pushes of device IDs carry an `Idempotency-Key`
(the caller's, or a fresh one per call) so a retry of a request whose answer was lost changes nothing.
A device list longer than one request takes is checked whole first (one bad ID still rejects the call
before anything is sent), then sent in parts; see `add_devices` for what that means for atomicity.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast

from app.domain.chips import ChipType
from app.domain.kinds import (
    BootloaderKind,
    ConnectionType,
    DeviceState,
    IefKind,
    ImageKind,
    KeyType,
    Role,
)
from app.domain.records import (
    ActivityEntry,
    AddDevicesResult,
    Batch,
    CertificateInfo,
    DashboardSummary,
    Device,
    DeviceCertificate,
    Firmware,
    FirmwareImage,
    InstanceInfo,
    InstanceParams,
    Page,
    PageRequest,
    Policy,
    ProvisioningTask,
    SigningKey,
    TaskImages,
    User,
    sample,
)
from app.domain.run_options import TaskRunOptions
from app.instance.api import DEFAULT_CERTIFICATE_DAYS, DEFAULT_JWT_MINUTES, DEFAULT_POLICY
from app.instance.api_tokens import DEFAULT_DAYS, ApiToken, NewApiToken
from app.instance.local.devices import device_id_blobs
from app.instance.remote.arguments import bind, encode, result_from
from app.instance.remote.connection import Connection
from app.instance.remote.routes import IDEMPOTENCY_HEADER, IDS_PER_PART, SESSION_PATH, route_of
from app.instance.wire import Json

R = TypeVar("R")


class RemoteInstance:
    """Open with `RemoteInstance.sign_in(...)` or with a token already held; close when done."""

    idempotent_pushes = True  # a `KeyedPushes`: the outbox resends with the key it made when queuing

    def __init__(self, connection: Connection, *, max_ids_per_request: int = IDS_PER_PART) -> None:
        self._connection = connection
        self._max_ids = max_ids_per_request

    @classmethod
    def sign_in(
        cls, base_url: str, ca_file: Path, username: str, password: str, **options: Any
    ) -> RemoteInstance:
        """Sign in with a name and password; the password goes in the request body, nowhere else."""
        connection = Connection(base_url, ca_file, **options)
        try:
            answer = connection.request(
                "POST", SESSION_PATH, body={"username": username, "password": password}, with_token=False
            )
        except BaseException:
            connection.close()
            raise
        connection.token = str(answer["token"])
        return cls(connection)

    @property
    def token(self) -> str | None:
        return self._connection.token

    def sign_out(self) -> None:
        """Revoke this client's token on the server; the client can make no further calls."""
        if self._connection.token is not None:
            self._connection.request("DELETE", SESSION_PATH)
            self._connection.token = None

    def __enter__(self) -> RemoteInstance:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._connection.close()

    def _call(self, method: str, *args: Any, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        route = route_of(method)
        query, body = encode(route, bind(route, args, kwargs))
        answer: Json = self._connection.request(
            route.verb, route.path, query=query, body=body, headers=headers
        )
        return result_from(route, answer)

    # --- identity and overview -------------------------------------------------------------------
    def info(self) -> InstanceInfo:
        served = cast(InstanceInfo, self._call("info"))
        return dataclasses.replace(served, kind="remote", location=self._connection.base_url)

    def dashboard_summary(self) -> DashboardSummary:
        return cast(DashboardSummary, self._call("dashboard_summary"))

    # --- batches and devices ---------------------------------------------------------------------
    def create_batch(
        self,
        name: str,
        policy: str = DEFAULT_POLICY,
        firmware: str | None = None,
        attribute_filters: Sequence[tuple[str, str]] = (),
    ) -> Batch:
        return cast(Batch, self._call("create_batch", name, policy, firmware, attribute_filters))

    def list_batches(self, page: PageRequest = PageRequest()) -> Page[Batch]:
        return cast(Page[Batch], self._call("list_batches", page))

    def get_batch(self, name: str) -> Batch:
        return cast(Batch, self._call("get_batch", name))

    def delete_batch(self, name: str) -> None:
        self._call("delete_batch", name)

    def set_batch_policy(self, batch: str, policy: str) -> Batch:
        return cast(Batch, self._call("set_batch_policy", batch, policy))

    def add_devices(
        self, batch: str, device_ids: Sequence[str], *, idempotency_key: str | None = None
    ) -> AddDevicesResult:
        """As the protocol says, in one request up to `max_ids_per_request` IDs.

        A longer list is validated whole, its repeats removed, and sent in parts, each with its own
        key derived from `idempotency_key`: a bad ID still changes nothing, but a failure between parts
        (the batch deleted, the network gone) leaves the earlier parts added; sending the same list
        again with the same key completes it without adding anything twice.
        """
        key = idempotency_key or uuid.uuid4().hex
        if isinstance(device_ids, str | bytes) or len(device_ids) <= self._max_ids:
            return cast(AddDevicesResult, self._keyed("add_devices", key, batch, device_ids))
        texts = [blob.hex() for blob in device_id_blobs(device_ids)]
        unique = _unique(texts)
        repeated = _repeats(texts)
        parts = [
            cast(
                AddDevicesResult,
                self._keyed("add_devices", f"{key}:{n}", batch, unique[start : start + self._max_ids]),
            )
            for n, start in enumerate(range(0, len(unique), self._max_ids))
        ]
        return AddDevicesResult(
            added=sum(p.added for p in parts),
            duplicates_in_input=len(texts) - len(unique),
            already_present=sum(p.already_present for p in parts),
            duplicate_samples=cast(Any, sample(repeated)),
            present_samples=sample([s for p in parts for s in p.present_samples]),
        )

    def list_devices(self, batch: str, page: PageRequest = PageRequest()) -> Page[Device]:
        return cast(Page[Device], self._call("list_devices", batch, page))

    def find_device(self, device_id: str) -> Device | None:
        return cast(Device | None, self._call("find_device", device_id))

    def move_devices(
        self, batch: str, device_ids: Sequence[str], *, idempotency_key: str | None = None
    ) -> int:
        """As the protocol says; a list longer than one request takes is moved in parts (see add_devices)."""
        key = idempotency_key or uuid.uuid4().hex
        if isinstance(device_ids, str | bytes) or len(device_ids) <= self._max_ids:
            return cast(int, self._keyed("move_devices", key, batch, device_ids))
        texts = _unique([blob.hex() for blob in device_id_blobs(device_ids)])
        return sum(
            cast(int, self._keyed("move_devices", f"{key}:{n}", batch, texts[start : start + self._max_ids]))
            for n, start in enumerate(range(0, len(texts), self._max_ids))
        )

    def _keyed(self, method: str, key: str, batch: str, device_ids: Sequence[str]) -> Any:
        return self._call(method, batch, device_ids, headers={IDEMPOTENCY_HEADER: key})

    def set_device_state(self, device_ids: Sequence[str], state: DeviceState) -> int:
        return cast(int, self._call("set_device_state", device_ids, state))

    # --- device lifecycle ------------------------------------------------------------------------
    def device_certificate(self, device_id: str) -> DeviceCertificate | None:
        return cast(DeviceCertificate | None, self._call("device_certificate", device_id))

    def device_certificates(self, device_ids: Sequence[str]) -> tuple[DeviceCertificate, ...]:
        return cast(tuple[DeviceCertificate, ...], self._call("device_certificates", list(device_ids)))

    def renew_device(self, device_id: str) -> DeviceCertificate:
        return cast(DeviceCertificate, self._call("renew_device", device_id))

    # --- policies --------------------------------------------------------------------------------
    def create_policy(
        self,
        name: str,
        connection: ConnectionType = ConnectionType.NONE,
        certificate_days: int = DEFAULT_CERTIFICATE_DAYS,
        auto_renew: bool = True,
        jwt_minutes: int = DEFAULT_JWT_MINUTES,
    ) -> Policy:
        return cast(
            Policy, self._call("create_policy", name, connection, certificate_days, auto_renew, jwt_minutes)
        )

    def list_policies(self, page: PageRequest = PageRequest()) -> Page[Policy]:
        return cast(Page[Policy], self._call("list_policies", page))

    def get_policy(self, name: str) -> Policy:
        return cast(Policy, self._call("get_policy", name))

    def update_policy(
        self,
        name: str,
        connection: ConnectionType | None = None,
        certificate_days: int | None = None,
        auto_renew: bool | None = None,
        jwt_minutes: int | None = None,
    ) -> Policy:
        return cast(
            Policy, self._call("update_policy", name, connection, certificate_days, auto_renew, jwt_minutes)
        )

    def delete_policy(self, name: str) -> None:
        self._call("delete_policy", name)

    # --- PKI and instance parameters -------------------------------------------------------------
    def certificates(self) -> tuple[CertificateInfo, ...]:
        return cast(tuple[CertificateInfo, ...], self._call("certificates"))

    def instance_params(self) -> InstanceParams:
        return cast(InstanceParams, self._call("instance_params"))

    def set_instance_params(self, endpoint: str, port: int) -> InstanceParams:
        return cast(InstanceParams, self._call("set_instance_params", endpoint, port))

    # --- signing keys ----------------------------------------------------------------------------
    def create_signing_key(self, name: str, key_type: KeyType) -> SigningKey:
        return cast(SigningKey, self._call("create_signing_key", name, key_type))

    def list_signing_keys(self, page: PageRequest = PageRequest()) -> Page[SigningKey]:
        return cast(Page[SigningKey], self._call("list_signing_keys", page))

    def get_signing_key(self, name: str) -> SigningKey:
        return cast(SigningKey, self._call("get_signing_key", name))

    # --- firmware images -------------------------------------------------------------------------
    def import_image(
        self, name: str, device_type: ChipType, kind: ImageKind, variant: str, data: bytes
    ) -> FirmwareImage:
        return cast(FirmwareImage, self._call("import_image", name, device_type, kind, variant, data))

    def list_images(
        self, page: PageRequest = PageRequest(), device_type: ChipType | None = None
    ) -> Page[FirmwareImage]:
        return cast(Page[FirmwareImage], self._call("list_images", page, device_type))

    # --- firmwares -------------------------------------------------------------------------------
    def upload_firmware(
        self,
        name: str,
        version: str,
        device_type: ChipType,
        attributes: Sequence[tuple[str, str]],
        data: bytes,
        key: str,
    ) -> Firmware:
        return cast(
            Firmware, self._call("upload_firmware", name, version, device_type, attributes, data, key)
        )

    def list_firmwares(self, page: PageRequest = PageRequest()) -> Page[Firmware]:
        return cast(Page[Firmware], self._call("list_firmwares", page))

    def get_firmware(self, name: str) -> Firmware:
        return cast(Firmware, self._call("get_firmware", name))

    def delete_firmware(self, name: str) -> None:
        self._call("delete_firmware", name)

    def set_batch_firmware(self, batch: str, firmware: str | None) -> Batch:
        return cast(Batch, self._call("set_batch_firmware", batch, firmware))

    # --- provisioning tasks ----------------------------------------------------------------------
    def create_task(
        self,
        name: str,
        device_type: ChipType,
        bootloader: BootloaderKind,
        ief: IefKind,
        signing_key: str,
        bootloader_image: str | None = None,
        partition_table_image: str | None = None,
        ief_image: str | None = None,
        run_options: TaskRunOptions | None = None,
    ) -> ProvisioningTask:
        return cast(
            ProvisioningTask,
            self._call(
                "create_task",
                name,
                device_type,
                bootloader,
                ief,
                signing_key,
                bootloader_image,
                partition_table_image,
                ief_image,
                run_options,
            ),
        )

    def list_tasks(self, page: PageRequest = PageRequest()) -> Page[ProvisioningTask]:
        return cast(Page[ProvisioningTask], self._call("list_tasks", page))

    def get_task(self, name: str) -> ProvisioningTask:
        return cast(ProvisioningTask, self._call("get_task", name))

    def update_task(
        self,
        name: str,
        device_type: ChipType,
        bootloader: BootloaderKind,
        ief: IefKind,
        signing_key: str,
        bootloader_image: str | None = None,
        partition_table_image: str | None = None,
        ief_image: str | None = None,
        run_options: TaskRunOptions | None = None,
    ) -> ProvisioningTask:
        return cast(
            ProvisioningTask,
            self._call(
                "update_task",
                name,
                device_type,
                bootloader,
                ief,
                signing_key,
                bootloader_image,
                partition_table_image,
                ief_image,
                run_options,
            ),
        )

    def delete_task(self, name: str) -> None:
        self._call("delete_task", name)

    def task_images(self, task: str) -> TaskImages:
        return cast(TaskImages, self._call("task_images", task))

    # --- users and activity ----------------------------------------------------------------------
    def create_user(self, username: str, password: str, role: Role) -> User:
        return cast(User, self._call("create_user", username, password, role))

    def list_users(self, page: PageRequest = PageRequest()) -> Page[User]:
        return cast(Page[User], self._call("list_users", page))

    def set_user_role(self, username: str, role: Role) -> User:
        return cast(User, self._call("set_user_role", username, role))

    def delete_user(self, username: str) -> None:
        self._call("delete_user", username)

    def list_activity(self, page: PageRequest = PageRequest()) -> Page[ActivityEntry]:
        return cast(Page[ActivityEntry], self._call("list_activity", page))

    def discard_device_push(self, device_id: str, batch: str, reason: str) -> None:
        self._call("discard_device_push", device_id, batch, reason)

    # --- API tokens (ApiTokenAdmin) --------------------------------------------------------------
    def create_api_token(self, name: str, days: int = DEFAULT_DAYS) -> NewApiToken:
        return cast(NewApiToken, self._call("create_api_token", name, days))

    def list_api_tokens(self, page: PageRequest = PageRequest()) -> Page[ApiToken]:
        return cast(Page[ApiToken], self._call("list_api_tokens", page))

    def revoke_api_token(self, name: str) -> None:
        self._call("revoke_api_token", name)


def _unique(texts: list[str]) -> list[str]:
    """In order without repeats, a slice at a time so other threads get the interpreter between."""
    seen: dict[str, None] = {}
    for start in range(0, len(texts), IDS_PER_PART):
        seen.update(dict.fromkeys(texts[start : start + IDS_PER_PART]))
    return list(seen)


def _repeats(texts: list[str]) -> list[str]:
    """Each ID that occurs more than once, once, in the order its second occurrence comes."""
    seen: set[str] = set()
    reported: dict[str, None] = {}
    for text in texts:
        if text in seen:
            reported.setdefault(text, None)
        seen.add(text)
    return list(reported)
