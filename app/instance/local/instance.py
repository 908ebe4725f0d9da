"""`LocalInstance`: the built-in instance, a SQLite file on this computer, behind the `Instance` protocol.

It is a thin coordinator: each concern (batches, devices, keys, images, tasks, users, activity, PKI) is a
module of SQL functions, and this class decides the transaction, the permission check and the activity
entry around them. Every change and its activity entry commit together. Slow work that needs no
database (validating a million IDs, generating or using keys) runs outside the lock, so a GUI worker
thread listing batches is not held up by another one signing images.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType

from app import __version__
from app.domain.chips import ChipType
from app.domain.device_id import parse_device_id
from app.domain.errors import NotFoundError, ValidationError
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
    MAX_PAGE_SIZE,
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
from app.instance.api import DEFAULT_CERTIFICATE_DAYS, DEFAULT_JWT_MINUTES, DEFAULT_POLICY
from app.instance.local import (
    activity,
    batches,
    certificates,
    dashboard,
    device_certificates,
    devices,
    firmware_catalog,
    first_start,
    idempotency,
    image_catalog,
    meta,
    params,
    policies,
    signing_keys,
    tasks,
    users,
)
from app.instance.local.database import Database
from app.instance.local.enrolment import DeviceEnrolment
from app.instance.local.idempotency import Keyed, KeyedRequest
from app.instance.local.key_protection import PassphrasePrompt
from app.instance.local.key_unlock import LazyProtector
from app.instance.local.migrations import migrate
from app.instance.local.server_certificate import ServerCertificate, issuing_material
from app.instance.local.server_certificate import issue as issue_server_certificate
from app.instance.local.signing import generate_signing_key
from app.instance.local.task_signing import build_task_images
from app.system.keyring_store import KeyringStore

MAX_DISCARD_REASON = 500  # characters of a person's reason kept in the activity log


class LocalInstance:
    """Open with `LocalInstance.open(path)`; close when done (or use it as a context manager)."""

    def __init__(
        self, db: Database, actor: str, protector: LazyProtector, certs: tuple[CertificateInfo, ...]
    ) -> None:
        self._db = db
        self._actor = actor
        self._protector = protector
        self._certs = certs
        self._desk: DeviceEnrolment | None = None
        tls = [c for c in certs if c.role == "tls"]
        self._tls_names = certificates.tls_names(tls[0].pem) if tls else frozenset()

    @classmethod
    def open(
        cls,
        db_path: Path,
        *,
        actor: str | None = None,
        passphrase_prompt: PassphrasePrompt | None = None,
        keyring: KeyringStore | None = None,
    ) -> LocalInstance:
        """Open (creating on first use) the instance in `db_path`.

        `actor` None acts as the built-in local administrator `station`: whoever can open the file is
        trusted like a local admin. A named actor must be an existing user; its role sets what it may do.
        """
        db = Database(Path(db_path))
        try:
            with db.session() as conn:
                migrate(conn)
            with db.read() as conn:
                acting = users.STATION_ACTOR if actor is None else users.canonical_actor(conn, actor)
            store = keyring if keyring is not None else KeyringStore()
            unlocked = None
            if not first_start.is_initialised(db):
                unlocked = first_start.initialise(db, acting, store, passphrase_prompt)
            with db.read() as conn:
                certs = certificates.load_all(conn)
            return cls(db, acting, LazyProtector(db, store, passphrase_prompt, unlocked), certs)
        except BaseException:
            db.close()
            raise

    def __enter__(self) -> LocalInstance:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _change(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on behalf of the actor, who must still exist."""
        with self._db.write() as conn:
            users.role_of(conn, self._actor)
            yield conn

    # --- identity and overview -------------------------------------------------------------------
    def info(self) -> InstanceInfo:
        with self._db.read() as conn:
            return InstanceInfo(
                name=meta.require(conn, meta.INSTANCE_NAME),
                kind="local",
                location=str(self._db.path),
                version=__version__,
                actor=self._actor,
                role=users.role_of(conn, self._actor),
            )

    def authenticate(self, username: str, password: str) -> User:
        """Check a user's password (for sign-in to the station or, later, to the HTTP server)."""
        with self._db.read() as conn:
            return users.authenticate(conn, username, password)

    def note_sign_in(self, username: str, address: str, *, succeeded: bool) -> None:
        """Write a sign-in to the HTTP server into the activity log; a failed one names who was tried."""
        with self._db.write() as conn:
            if succeeded:
                activity.record(conn, username, "session.sign-in", username, f"from {address}")
            else:
                activity.record(conn, "-", "session.sign-in-failed", repr(username[:64]), f"from {address}")

    def note(self, action: str, target: str, details: str = "") -> None:
        """An activity entry, as the actor, for a change kept outside this database (the server's API
        tokens), so the one activity log still says who did what. Never pass a secret here."""
        with self._change() as conn:
            activity.record(conn, self._actor, action, target, details)

    def issue_server_certificate(self, hostnames: Sequence[str]) -> ServerCertificate:
        """A TLS certificate for `ql-station serve` on `hostnames`, chained to this instance's root CA."""
        with self._db.read() as conn:
            users.require_user_manager(conn, self._actor)
            issuing = issuing_material(conn)
        certificate = issue_server_certificate(issuing, self._protector.get(), hostnames)
        with self._change() as conn:
            activity.record(
                conn, self._actor, "tls.issue-server", certificate.names[0], ", ".join(certificate.names)
            )
        return certificate

    def device_enrolment(self, clock: Callable[[], datetime] | None = None) -> DeviceEnrolment:
        """The instance side of the enrolment service, on this instance's database and keys."""
        return DeviceEnrolment(self._db, self._protector, clock)

    def _lifecycle(self) -> DeviceEnrolment:
        """One desk per handle for a person's lifecycle calls: its issuing key is unlocked once."""
        if self._desk is None:
            self._desk = self.device_enrolment()
        return self._desk

    def dashboard_summary(self) -> DashboardSummary:
        self._lifecycle().expire_due()  # counts as of now, even where no enrolment service sweeps
        mode = self._protector.mode()
        with self._db.read() as conn:
            return dashboard.summary(
                conn,
                certs=self._certs,
                tls_hostnames=self._tls_names,
                protection_mode=mode,
                unlocked=self._protector.is_unlocked,
                database_bytes=self._db.file_size(),
            )

    # --- batches and devices ---------------------------------------------------------------------
    def create_batch(
        self,
        name: str,
        policy: str = DEFAULT_POLICY,
        firmware: str | None = None,
        attribute_filters: Sequence[tuple[str, str]] = (),
    ) -> Batch:
        with self._change() as conn:
            batch = batches.create(conn, name, policy, None, attribute_filters)
            if firmware is not None and firmware.strip():  # in the catalog, passing the batch's filters
                batch, _before = firmware_catalog.assign(conn, batch.name, firmware)
            details = f"policy {batch.policy}" + (f", firmware {batch.firmware}" if batch.firmware else "")
            activity.record(conn, self._actor, "batch.create", batch.name, details)
        return batch

    def list_batches(self, page: PageRequest = PageRequest()) -> Page[Batch]:
        with self._db.read() as conn:
            return batches.list_batches(conn, page)

    def get_batch(self, name: str) -> Batch:
        with self._db.read() as conn:
            return batches.get(conn, name)

    def delete_batch(self, name: str) -> None:
        with self._change() as conn:
            batch = batches.delete(conn, name)
            details = f"{batch.counts.total} devices deleted with it, policy {batch.policy}"
            activity.record(conn, self._actor, "batch.delete", batch.name, details)

    def set_batch_policy(self, batch: str, policy: str) -> Batch:
        with self._change() as conn:
            before, changed = batches.set_policy(conn, batch, policy)
            if before != changed.policy:
                details = f"policy {before} -> {changed.policy}"
                activity.record(conn, self._actor, "batch.set-policy", changed.name, details)
        return changed

    def add_devices(self, batch: str, device_ids: Sequence[str]) -> AddDevicesResult:
        return self.add_devices_once(batch, device_ids, None).result

    def add_devices_once(
        self, batch: str, device_ids: Sequence[str], request: KeyedRequest | None
    ) -> Keyed[AddDevicesResult]:
        """`add_devices`, its answer remembered under `request`'s key in the same transaction, so a
        retry with that key gets the first answer and changes nothing, whatever crashed in between."""
        blobs = devices.device_id_blobs(device_ids)
        with self._change() as conn:
            earlier = idempotency.replay(conn, self._actor, "add_devices", request, AddDevicesResult)
            if earlier is not None:
                return earlier
            result = devices.add(conn, batch, blobs)
            if blobs:
                details = (
                    f"{result.added} added, {result.duplicates_in_input} repeated in the input, "
                    f"{result.already_present} already in the instance"
                )
                activity.record(conn, self._actor, "batch.add-devices", batch.strip(), details)
            idempotency.remember(conn, self._actor, "add_devices", request, result)
        return Keyed(result)

    def list_devices(self, batch: str, page: PageRequest = PageRequest()) -> Page[Device]:
        with self._db.read() as conn:
            return devices.list_devices(conn, batch, page)

    def find_device(self, device_id: str) -> Device | None:
        (blob,) = devices.device_id_blobs([device_id])
        with self._db.read() as conn:
            return devices.find(conn, blob)

    def move_devices(self, batch: str, device_ids: Sequence[str]) -> int:
        return self.move_devices_once(batch, device_ids, None).result

    def move_devices_once(
        self, batch: str, device_ids: Sequence[str], request: KeyedRequest | None
    ) -> Keyed[int]:
        """`move_devices`, remembered under `request`'s key like `add_devices_once`."""
        blobs = devices.device_id_blobs(device_ids)
        with self._change() as conn:
            earlier = idempotency.replay(conn, self._actor, "move_devices", request, int)
            if earlier is not None:
                return earlier
            moved = devices.move(conn, batch, blobs)
            if moved:
                sources = ", ".join(sorted({name for _, name in moved}))
                target = moved[0][0].hex() if len(moved) == 1 else f"{len(moved)} devices"
                details = f"moved to batch {batch.strip()!r} from {sources}"
                activity.record(conn, self._actor, "device.move", target, details)
            idempotency.remember(conn, self._actor, "move_devices", request, len(moved))
        return Keyed(len(moved))

    def set_device_state(self, device_ids: Sequence[str], state: DeviceState) -> int:
        blobs = devices.device_id_blobs(device_ids)
        with self._change() as conn:
            changed = devices.set_state(conn, blobs, state)
            if state in device_certificates.LIVE_STATES:
                device_certificates.reopen_sweep_for(conn, blobs)
            if changed:
                target = blobs[0].hex() if len(blobs) == 1 else f"{len(blobs)} devices"
                details = f"{changed} of {len(blobs)} set to {state.value}"
                activity.record(conn, self._actor, "device.set-state", target, details)
        return changed

    # --- device lifecycle ------------------------------------------------------------------------
    def device_certificate(self, device_id: str) -> DeviceCertificate | None:
        (blob,) = devices.device_id_blobs([device_id])
        self._lifecycle().expire_due()
        with self._db.read() as conn:
            if devices.find(conn, blob) is None:
                raise NotFoundError(f"device {blob.hex()} is in no batch of this instance")
            return device_certificates.one(conn, blob)

    def device_certificates(self, device_ids: Sequence[str]) -> tuple[DeviceCertificate, ...]:
        blobs = devices.device_id_blobs(_at_most_a_page(device_ids))
        self._lifecycle().expire_due()  # a page never shows a run-out certificate as valid
        with self._db.read() as conn:
            return device_certificates.of(conn, blobs)

    def renew_device(self, device_id: str) -> DeviceCertificate:
        with self._db.read() as conn:
            users.role_of(conn, self._actor)
        return self._lifecycle().renew(device_id, self._actor)

    # --- policies --------------------------------------------------------------------------------
    def create_policy(
        self,
        name: str,
        connection: ConnectionType = ConnectionType.NONE,
        certificate_days: int = DEFAULT_CERTIFICATE_DAYS,
        auto_renew: bool = True,
        jwt_minutes: int = DEFAULT_JWT_MINUTES,
    ) -> Policy:
        terms = policies.PolicyChange(connection, certificate_days, auto_renew, jwt_minutes)
        with self._change() as conn:
            policy = policies.create(conn, name, terms)
            activity.record(conn, self._actor, "policy.create", policy.name, policy.terms)
        return policy

    def list_policies(self, page: PageRequest = PageRequest()) -> Page[Policy]:
        with self._db.read() as conn:
            return policies.list_policies(conn, page)

    def get_policy(self, name: str) -> Policy:
        with self._db.read() as conn:
            return policies.get(conn, name)

    def update_policy(
        self,
        name: str,
        connection: ConnectionType | None = None,
        certificate_days: int | None = None,
        auto_renew: bool | None = None,
        jwt_minutes: int | None = None,
    ) -> Policy:
        terms = policies.PolicyChange(connection, certificate_days, auto_renew, jwt_minutes)
        with self._change() as conn:
            before, policy = policies.update(conn, name, terms)
            if before != policy:
                details = f"{before.terms} -> {policy.terms}"
                activity.record(conn, self._actor, "policy.update", policy.name, details)
        return policy

    def delete_policy(self, name: str) -> None:
        with self._change() as conn:
            policy = policies.delete(conn, name)
            details = f"was {policy.terms}"
            activity.record(conn, self._actor, "policy.delete", policy.name, details)

    # --- PKI and instance parameters -------------------------------------------------------------
    def certificates(self) -> tuple[CertificateInfo, ...]:
        return self._certs

    def instance_params(self) -> InstanceParams:
        with self._db.read() as conn:
            return params.read(conn, certificates.root_pem(self._certs))

    def set_instance_params(self, endpoint: str, port: int) -> InstanceParams:
        host = params.validate_endpoint(endpoint)
        number = params.validate_port(port)
        with self._change() as conn:
            params.write(conn, host, number)
            activity.record(conn, self._actor, "instance.set-params", "ief-endpoint", f"{host}:{number}")
            return params.read(conn, certificates.root_pem(self._certs))

    # --- signing keys ----------------------------------------------------------------------------
    def create_signing_key(self, name: str, key_type: KeyType) -> SigningKey:
        if not isinstance(key_type, KeyType):
            raise ValidationError(f"key type must be one of {', '.join(k.value for k in KeyType)}")
        with self._db.read() as conn:
            key_name = signing_keys.check_new_name(conn, name)
        protector = self._protector.get()  # before the slow part: a missing secret fails at once
        generated = generate_signing_key(key_type)
        sealed = protector.encrypt(generated.private_key_pem, signing_keys.protector_label(key_name))
        with self._change() as conn:
            key = signing_keys.insert(
                conn, key_name, key_type, generated.public_key_pem, generated.key_digest_hex, sealed
            )
            activity.record(
                conn, self._actor, "key.create", key.name, f"{key_type.value}, digest {key.key_digest_hex}"
            )
        return key

    def list_signing_keys(self, page: PageRequest = PageRequest()) -> Page[SigningKey]:
        with self._db.read() as conn:
            return signing_keys.list_keys(conn, page)

    def get_signing_key(self, name: str) -> SigningKey:
        with self._db.read() as conn:
            return signing_keys.get(conn, name)

    # --- firmware images -------------------------------------------------------------------------
    def import_image(
        self, name: str, device_type: ChipType, kind: ImageKind, variant: str, data: bytes
    ) -> FirmwareImage:
        checked = image_catalog.check(name, device_type, kind, variant, data)
        with self._change() as conn:
            image = image_catalog.insert(conn, checked)
            details = f"{image.device_type.value} {image.kind.value} {image.variant}".rstrip()
            activity.record(
                conn, self._actor, "image.import", image.name, f"{details}, sha256 {image.sha256}"
            )
        return image

    def list_images(
        self, page: PageRequest = PageRequest(), device_type: ChipType | None = None
    ) -> Page[FirmwareImage]:
        with self._db.read() as conn:
            return image_catalog.list_images(conn, page, device_type)

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
        upload = firmware_catalog.check_upload(name, version, device_type, attributes, data, key)
        with self._db.read() as conn:
            signing_key = signing_keys.get(conn, upload.key)
            sealed = signing_keys.encrypted_private_key(conn, signing_key.name)
            firmware_catalog.check_new_name(conn, upload.name)  # before the slow signing
        private_key_pem = self._protector.get().decrypt(
            sealed, signing_keys.protector_label(signing_key.name)
        )
        signed = firmware_catalog.sign(upload, signing_key, private_key_pem)
        with self._change() as conn:
            firmware = firmware_catalog.insert(conn, upload, signing_key, signed)
            details = (
                f"version {firmware.version}, {firmware.device_type.value}, "
                f"signed with key {signing_key.name}, sha256 {firmware.sha256}"
            )
            activity.record(conn, self._actor, "firmware.upload", firmware.name, details)
        return firmware

    def list_firmwares(self, page: PageRequest = PageRequest()) -> Page[Firmware]:
        with self._db.read() as conn:
            return firmware_catalog.list_firmwares(conn, page)

    def get_firmware(self, name: str) -> Firmware:
        with self._db.read() as conn:
            return firmware_catalog.get(conn, name)

    def delete_firmware(self, name: str) -> None:
        with self._change() as conn:
            firmware = firmware_catalog.delete(conn, name)
            activity.record(
                conn, self._actor, "firmware.delete", firmware.name, f"was version {firmware.version}"
            )

    def set_batch_firmware(self, batch: str, firmware: str | None) -> Batch:
        with self._change() as conn:
            result, before = firmware_catalog.assign(conn, batch, firmware)
            if before != result.firmware:
                details = f"{before or 'none'} -> {result.firmware or 'none'}"
                activity.record(conn, self._actor, "batch.set-firmware", result.name, details)
        return result

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
        spec = tasks.TaskSpec(
            name,
            device_type,
            bootloader,
            ief,
            signing_key,
            bootloader_image,
            partition_table_image,
            ief_image,
            run_options,
        )
        with self._change() as conn:
            task = tasks.create(conn, spec)
            details = (
                f"{task.device_type.value}, bootloader {task.bootloader.value}, IEF {task.ief.value}, "
                f"key {task.signing_key}; {task.run_options.describe()}"
            )
            activity.record(conn, self._actor, "task.create", task.name, details)
        return task

    def list_tasks(self, page: PageRequest = PageRequest()) -> Page[ProvisioningTask]:
        with self._db.read() as conn:
            return tasks.list_tasks(conn, page)

    def get_task(self, name: str) -> ProvisioningTask:
        with self._db.read() as conn:
            return tasks.get(conn, name)

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
        spec = tasks.TaskSpec(
            name,
            device_type,
            bootloader,
            ief,
            signing_key,
            bootloader_image,
            partition_table_image,
            ief_image,
            run_options,
        )
        with self._change() as conn:
            before, task = tasks.update(conn, spec)
            details = (
                f"{before.device_type.value} -> {task.device_type.value}, "
                f"bootloader {task.bootloader.value}, IEF {task.ief.value}, key {task.signing_key}, "
                f"images {task.bootloader_image}, {task.partition_table_image}, {task.ief_image}; "
                f"{task.run_options.describe()}"
            )
            activity.record(conn, self._actor, "task.update", task.name, details)
        return task

    def delete_task(self, name: str) -> None:
        with self._change() as conn:
            task = tasks.delete(conn, name)
            activity.record(conn, self._actor, "task.delete", task.name, f"was {task.device_type.value}")

    def task_images(self, task: str) -> TaskImages:
        with self._db.read() as conn:
            parts = tasks.parts(conn, task)
            task_name = tasks.get(conn, task).name
            key = signing_keys.get(conn, parts.signing_key)
            sealed = signing_keys.encrypted_private_key(conn, key.name)
            images = [image_catalog.stored(conn, image_id) for image_id in parts.image_ids]
        private_key_pem = self._protector.get().decrypt(sealed, signing_keys.protector_label(key.name))
        result = build_task_images(task_name, parts, key, private_key_pem, images)
        with self._change() as conn:
            activity.record(conn, self._actor, "task.sign-images", task_name, f"signed with key {key.name}")
        return result

    # --- users and activity ----------------------------------------------------------------------
    def create_user(self, username: str, password: str, role: Role) -> User:
        with self._change() as conn:
            users.require_user_manager(conn, self._actor)
            user = users.create(conn, username, password, role)
            activity.record(conn, self._actor, "user.create", user.username, f"role {user.role.value}")
        return user

    def list_users(self, page: PageRequest = PageRequest()) -> Page[User]:
        with self._db.read() as conn:
            return users.list_users(conn, page)

    def set_user_role(self, username: str, role: Role) -> User:
        if not isinstance(role, Role):
            raise ValidationError(f"role must be one of {', '.join(r.value for r in Role)}")
        with self._change() as conn:
            users.require_user_manager(conn, self._actor)
            user, before = users.set_role(conn, username, role)
            if before is not role:
                details = f"{before.value} -> {role.value}"
                activity.record(conn, self._actor, "user.set-role", user.username, details)
        return user

    def delete_user(self, username: str) -> None:
        with self._change() as conn:
            users.require_user_manager(conn, self._actor)
            user = users.delete(conn, username)
            activity.record(conn, self._actor, "user.delete", user.username, f"was {user.role.value}")

    def list_activity(self, page: PageRequest = PageRequest()) -> Page[ActivityEntry]:
        with self._db.read() as conn:
            return activity.list_activity(conn, page)

    def discard_device_push(self, device_id: str, batch: str, reason: str) -> None:
        device = parse_device_id(device_id)
        why = reason.strip()
        if not why:
            raise ValidationError("say why the DeviceID is discarded: the reason goes to the activity log")
        if len(why) > MAX_DISCARD_REASON:
            raise ValidationError(
                f"a discard reason is at most {MAX_DISCARD_REASON} characters; got {len(why)}"
            )
        with self._change() as conn:
            activity.record(
                conn,
                self._actor,
                "device.push-discarded",
                device,
                f"not pushed to batch {batch.strip()!r}: {why}",
            )


def _at_most_a_page(device_ids: Sequence[str]) -> Sequence[str]:
    """The certificates of a page of devices are asked at once; more than a page is a caller's mistake."""
    if isinstance(device_ids, list | tuple) and len(device_ids) > MAX_PAGE_SIZE:
        raise ValidationError(
            f"asked for the certificates of {len(device_ids):,} devices at once; at most {MAX_PAGE_SIZE:,} "
            "(a page) per call"
        )
    return device_ids
