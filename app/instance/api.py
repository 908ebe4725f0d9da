"""The `Instance` protocol: everything the UI and the engine need from a QuarkLink instance.

Three implementations are planned: the built-in local instance (SQLite), a remote client over HTTPS and
an offline mirror. The protocol is shaped for the remote case: every listing is paginated
(`PageRequest` -> `Page`), bulk changes are one call, and nothing needs a call per row. Private keys never
cross it: signing happens inside the instance (`task_images`) and only public parts come back.

Every method raises `app.domain.errors` types with a message a person can act on:
ValidationError for bad input, NotFoundError for unknown names, ConflictError for clashes,
PermissionDeniedError when the acting user's role does not allow the change, and
SecretUnavailableError when a private key is needed but its protecting secret is not available.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

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
)
from app.domain.run_options import TaskRunOptions

DEFAULT_POLICY = "default"
DEFAULT_CERTIFICATE_DAYS = 365  # the terms a new policy gets when none are given
DEFAULT_JWT_MINUTES = 60
MAX_CERTIFICATE_DAYS = 36_500  # a device certificate never outlives the issuing CA in any case
MAX_JWT_MINUTES = 7 * 24 * 60
DEFAULT_IEF_PORT = 6000


@runtime_checkable
class Instance(Protocol):
    # --- identity and overview -------------------------------------------------------------------
    def info(self) -> InstanceInfo:
        """Which instance this is and who is acting on it."""
        ...

    def dashboard_summary(self) -> DashboardSummary:
        """Health panels, device and certificate counts, the last 10 activity entries."""
        ...

    def close(self) -> None: ...

    # --- batches and devices ---------------------------------------------------------------------
    def create_batch(
        self,
        name: str,
        policy: str = DEFAULT_POLICY,
        firmware: str | None = None,
        attribute_filters: Sequence[tuple[str, str]] = (),
    ) -> Batch:
        """A `firmware`, when given, must be in the catalog and pass `attribute_filters` (as for
        `set_batch_firmware`), else nothing is created."""
        ...

    def list_batches(self, page: PageRequest = PageRequest()) -> Page[Batch]:
        """Batches by name; `page.search` filters by a substring of the name."""
        ...

    def get_batch(self, name: str) -> Batch: ...

    def delete_batch(self, name: str) -> None:
        """Delete a batch and its devices. ConflictError while any device of it is enrolled (in use in the
        field), naming how many; NotFoundError for an unknown batch."""
        ...

    def set_batch_policy(self, batch: str, policy: str) -> Batch:
        """Give a batch another existing policy; its devices get the new terms at their next enrolment."""
        ...

    def add_devices(self, batch: str, device_ids: Sequence[str]) -> AddDevicesResult:
        """Add many devices in one transaction.

        Every ID is validated first; one bad ID rejects the whole call (ValidationError naming its
        index) and nothing is added. IDs repeated in the input or already in the instance are skipped
        and reported in the result.
        """
        ...

    def list_devices(self, batch: str, page: PageRequest = PageRequest()) -> Page[Device]:
        """A batch's devices in the order they were added; any offset is as cheap as the first."""
        ...

    def find_device(self, device_id: str) -> Device | None: ...

    def move_devices(self, batch: str, device_ids: Sequence[str]) -> int:
        """Move devices already in the instance into `batch`, keeping their state (field re-enrolment).

        All IDs must exist, else NotFoundError and nothing moves. Devices already in `batch` stay where
        they are. Returns how many moved.
        """
        ...

    def set_device_state(self, device_ids: Sequence[str], state: DeviceState) -> int:
        """Change the state of many devices at once; returns how many changed."""
        ...

    # --- device lifecycle ------------------------------------------------------------------------
    def device_certificate(self, device_id: str) -> DeviceCertificate | None:
        """The device's state and current certificate (serial, validity, enrolments, last seen, firmware).

        None when the device has never enrolled; NotFoundError when it is in no batch.
        """
        ...

    def device_certificates(self, device_ids: Sequence[str]) -> tuple[DeviceCertificate, ...]:
        """The certificates of a page of devices (at most MAX_PAGE_SIZE IDs) in one call, in the order
        asked; devices that never enrolled are left out."""
        ...

    def renew_device(self, device_id: str) -> DeviceCertificate:
        """A new certificate for the device's key under its batch's policy; the device becomes Renewed.

        ConflictError for a revoked device (DeviceRevokedError, with the reason) or one that never
        enrolled; NotFoundError when it is in no batch. Revoking is `set_device_state(..., REVOKED)`.
        """
        ...

    # --- policies --------------------------------------------------------------------------------
    def create_policy(
        self,
        name: str,
        connection: ConnectionType = ConnectionType.NONE,
        certificate_days: int = DEFAULT_CERTIFICATE_DAYS,
        auto_renew: bool = True,
        jwt_minutes: int = DEFAULT_JWT_MINUTES,
    ) -> Policy:
        """A policy batches can name. JWT lifetimes are in minutes; `iot-hub` and `database-direct`
        connections are recorded only, until they can be configured."""
        ...

    def list_policies(self, page: PageRequest = PageRequest()) -> Page[Policy]:
        """Policies by name, each with how many batches use it; `page.search` matches name or connection."""
        ...

    def get_policy(self, name: str) -> Policy: ...

    def update_policy(
        self,
        name: str,
        connection: ConnectionType | None = None,
        certificate_days: int | None = None,
        auto_renew: bool | None = None,
        jwt_minutes: int | None = None,
    ) -> Policy:
        """Change the terms given (None keeps one); enrolled devices get them at their next enrolment."""
        ...

    def delete_policy(self, name: str) -> None:
        """ConflictError naming the batches while any uses it, and always for the default policy."""
        ...

    # --- PKI and instance parameters -------------------------------------------------------------
    def certificates(self) -> tuple[CertificateInfo, ...]:
        """The instance PKI: OEM root, issuing and TLS certificates (public PEM included)."""
        ...

    def instance_params(self) -> InstanceParams:
        """What a board's IEF needs to reach this instance: endpoint, port and root CA."""
        ...

    def set_instance_params(self, endpoint: str, port: int) -> InstanceParams: ...

    # --- signing keys ----------------------------------------------------------------------------
    def create_signing_key(self, name: str, key_type: KeyType) -> SigningKey:
        """Generate a key inside the instance. May take seconds (RSA-3072)."""
        ...

    def list_signing_keys(self, page: PageRequest = PageRequest()) -> Page[SigningKey]: ...

    def get_signing_key(self, name: str) -> SigningKey:
        """The key's public part; the private part is never returned."""
        ...

    # --- firmware images -------------------------------------------------------------------------
    def import_image(
        self, name: str, device_type: ChipType, kind: ImageKind, variant: str, data: bytes
    ) -> FirmwareImage:
        """Check (ESP image header, chip id, size) and store a person's own image."""
        ...

    def list_images(
        self, page: PageRequest = PageRequest(), device_type: ChipType | None = None
    ) -> Page[FirmwareImage]: ...

    # --- firmwares (updates a batch's devices download) ---------------------------------------------
    def upload_firmware(
        self,
        name: str,
        version: str,
        device_type: ChipType,
        attributes: Sequence[tuple[str, str]],
        data: bytes,
        key: str,
    ) -> Firmware:
        """Check an unsigned ESP app image for `device_type` (another chip's build: ValidationError
        saying so), sign it (Secure Boot V2) with the instance signing key `key` inside the instance,
        and keep the signed image. `attributes` are (key, value) pairs, one value per key."""
        ...

    def list_firmwares(self, page: PageRequest = PageRequest()) -> Page[Firmware]:
        """By name, each with how many devices last reported running its version."""
        ...

    def get_firmware(self, name: str) -> Firmware: ...

    def delete_firmware(self, name: str) -> None:
        """ConflictError while a batch has it assigned, naming the batches."""
        ...

    def set_batch_firmware(self, batch: str, firmware: str | None) -> Batch:
        """Assign the firmware a batch's devices update to (None clears it). ValidationError when the
        firmware's attributes do not pass the batch's attribute filters (AND between keys, OR within one)."""
        ...

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
        """Images left as None are the newest catalog image of the right type, kind and variant; run options
        left as None are the defaults (wait for enrolment, flashing rate by USB bridge)."""
        ...

    def list_tasks(self, page: PageRequest = PageRequest()) -> Page[ProvisioningTask]: ...

    def get_task(self, name: str) -> ProvisioningTask: ...

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
        """Change what an existing task flashes; the same rules as `create_task`. The name stays, and run
        options left as None stay as they were."""
        ...

    def delete_task(self, name: str) -> None:
        """Delete a task; what boards were given with it stays with them."""
        ...

    def task_images(self, task: str) -> TaskImages:
        """The task's bootloader and IEF signed (Secure Boot V2) with its key, plus the partition table."""
        ...

    # --- users and activity ----------------------------------------------------------------------
    def create_user(self, username: str, password: str, role: Role) -> User: ...

    def list_users(self, page: PageRequest = PageRequest()) -> Page[User]: ...

    def set_user_role(self, username: str, role: Role) -> User: ...

    def delete_user(self, username: str) -> None: ...

    def list_activity(self, page: PageRequest = PageRequest()) -> Page[ActivityEntry]:
        """Newest first; `page.search` matches actor, action, target or details."""
        ...

    def discard_device_push(self, device_id: str, batch: str, reason: str) -> None:
        """Log that a DeviceID a station received will not reach `batch`, and why (a person decided).

        A station never drops a DeviceID silently: when its push was refused and a person gives it up,
        the instance's activity log says who, which device and why.
        """
        ...


@runtime_checkable
class KeyedPushes(Protocol):
    """An instance reached over a network, where an answer can be lost on its way back.

    Its pushes take an idempotency key: a retry with the same key returns the first answer and changes
    nothing, so the outbox can resend until it hears back. The built-in instance does not need one (its
    answer cannot be lost between the change and the caller) and is not a `KeyedPushes`.
    """

    idempotent_pushes: bool

    def add_devices(
        self, batch: str, device_ids: Sequence[str], *, idempotency_key: str | None = None
    ) -> AddDevicesResult: ...

    def move_devices(
        self, batch: str, device_ids: Sequence[str], *, idempotency_key: str | None = None
    ) -> int: ...


def keyed_add(instance: Instance, batch: str, device_ids: Sequence[str], key: str | None) -> AddDevicesResult:
    """`add_devices` with the caller's idempotency key where the instance takes one."""
    if key is not None and isinstance(instance, KeyedPushes):
        return instance.add_devices(batch, device_ids, idempotency_key=key)
    return instance.add_devices(batch, device_ids)


def keyed_move(instance: Instance, batch: str, device_ids: Sequence[str], key: str | None) -> int:
    """`move_devices` with the caller's idempotency key where the instance takes one."""
    if key is not None and isinstance(instance, KeyedPushes):
        return instance.move_devices(batch, device_ids, idempotency_key=key)
    return instance.move_devices(batch, device_ids)
