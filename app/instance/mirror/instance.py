"""`MirrorInstance`: a remote instance that keeps answering from its mirror when the network is away.

Online, every read goes to the instance and its answer refreshes the mirror; offline, reads are served
from the mirror (`status()` says since when and how old the data is) and a read of something never
mirrored says so. Changes need the instance: offline they are refused with a sentence, except that
`add_devices` and `move_devices` raise the plain `InstanceUnavailableError` the DeviceID journal
already treats as "queue it" — the outbox delivers them later with the key made when they were queued.

After a failed call the instance is not asked again for `retry_s` (doubling up to `max_retry_s`), so a
page full of reads does not wait a connect timeout per read; `refresh()` always asks, and is what the
window's background timer and `outbox send` call to find the instance back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol, TypeVar

from app.domain.chips import ChipType
from app.domain.errors import InstanceUnavailableError, NotFoundError
from app.domain.kinds import (
    BootloaderKind,
    ConnectionType,
    DeviceState,
    IefKind,
    ImageKind,
    KeyType,
    Role,
)
from app.domain.paging import iterate_pages
from app.domain.records import (
    MAX_PAGE_SIZE,
    ActivityEntry,
    AddDevicesResult,
    Batch,
    CertificateInfo,
    DashboardSummary,
    Device,
    DeviceCertificate,
    DeviceCounts,
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
from app.instance.api import (
    DEFAULT_CERTIFICATE_DAYS,
    DEFAULT_JWT_MINUTES,
    DEFAULT_POLICY,
    Instance,
    keyed_add,
    keyed_move,
)
from app.instance.mirror.store import MirrorError, MirrorStore, Stored

log = logging.getLogger(__name__)
R = TypeVar("R")

RETRY_S = 5.0
MAX_RETRY_S = 60.0
ACTIVITY_KEPT = 200  # the newest entries a mirror keeps: "the latest activity", not the whole log


class _Collection:
    """How one listing is keyed and searched in the mirror (the same fields the instance searches)."""

    def __init__(self, kind: str, tp: Any, key: Callable[[Any], str], searched: Callable[[Any], str]) -> None:
        self.kind, self.tp, self.key, self.searched = kind, tp, key, searched


BATCHES = _Collection("batch", Batch, lambda b: b.name, lambda b: b.name)
POLICIES = _Collection("policy", Policy, lambda p: p.name, lambda p: f"{p.name}\n{p.connection.value}")
TASKS = _Collection(
    "task", ProvisioningTask, lambda t: t.name, lambda t: f"{t.name}\n{t.device_type.value}\n{t.signing_key}"
)
IMAGES = _Collection(
    "image", FirmwareImage, lambda i: i.name, lambda i: f"{i.name}\n{i.kind.value}\n{i.variant}"
)
FIRMWARES = _Collection(
    "firmware",
    Firmware,
    lambda f: f.name,
    lambda f: (
        f"{f.name}\n{f.version}\n{f.device_type.value}\n" + " ".join(f"{k}={v}" for k, v in f.attributes)
    ),
)
KEYS = _Collection("signing_key", SigningKey, lambda k: k.name, lambda k: f"{k.name}\n{k.key_type.value}")
USERS = _Collection("user", User, lambda u: u.username, lambda u: f"{u.username}\n{u.role.value}")
DEVICE_CERTIFICATES = _Collection(
    "device_certificate", DeviceCertificate, lambda c: str(c.device_id), lambda c: str(c.device_id)
)
"""The certificates this station has been shown (a page of devices, `device show`): kept, and refreshed
with the rest; the certificates of devices never looked at are not fetched (a batch may hold millions)."""
ACTIVITY = _Collection(
    "activity",
    ActivityEntry,
    lambda a: f"{a.id:020d}",
    lambda a: f"{a.actor}\n{a.action}\n{a.target}\n{a.details}",
)


@dataclass(frozen=True)
class MirrorStatus:
    """What every page tells a person about where its data comes from."""

    online: bool
    offline_since: datetime | None
    data_from: datetime | None  # the oldest mirrored answer; None: nothing mirrored yet
    reason: str = ""  # why the instance is unreachable, when it is


@dataclass(frozen=True)
class RefreshReport:
    items: int
    devices_added: int
    seconds: float


class Clock(Protocol):
    def __call__(self) -> float: ...


class MirrorInstance:
    """The `Instance` protocol over a remote instance and its mirror. Safe to share between threads."""

    idempotent_pushes = True  # a `KeyedPushes`: keys pass through to the remote instance

    def __init__(
        self,
        remote: Instance,
        store: MirrorStore,
        *,
        retry_s: float = RETRY_S,
        max_retry_s: float = MAX_RETRY_S,
        clock: Clock = time.monotonic,
        acting_as: str | None = None,
    ) -> None:
        """`acting_as` is the signed-in user, when known: offline, `info()` names them (the mirrored
        answer names whoever refreshed it last) with their mirrored role, or contributor if unknown."""
        self.remote = remote
        self._acting_as = acting_as
        self.store = store
        self._retry_s = retry_s
        self._max_retry_s = max_retry_s
        self._clock = clock
        self._lock = threading.Lock()
        self._offline_since: datetime | None = None
        self._reason = ""
        self._next_try = 0.0
        self._backoff = retry_s

    # --- connectivity ------------------------------------------------------------------------------
    def status(self) -> MirrorStatus:
        with self._lock:
            offline_since, reason = self._offline_since, self._reason
        return MirrorStatus(
            online=offline_since is None,
            offline_since=offline_since,
            data_from=self.store.oldest_refresh(),
            reason=reason,
        )

    def _ask(self, call: Callable[[], R], *, force: bool = False) -> R:
        """One call to the instance, unless it failed moments ago (then fail at once, the same way)."""
        with self._lock:
            if not force and self._offline_since is not None and self._clock() < self._next_try:
                raise InstanceUnavailableError(self._reason)
        try:
            result = call()
        except InstanceUnavailableError as exc:
            self._went_offline(str(exc))
            raise
        self._came_back()
        return result

    def _went_offline(self, reason: str) -> None:
        with self._lock:
            if self._offline_since is None:
                self._offline_since = datetime.now(UTC)
                self._backoff = self._retry_s
                log.warning("instance unreachable, serving the mirror: %s", reason)
            else:
                self._backoff = min(self._backoff * 2, self._max_retry_s)
            self._reason = reason
            self._next_try = self._clock() + self._backoff

    def _came_back(self) -> None:
        with self._lock:
            if self._offline_since is not None:
                log.info("instance reachable again")
            self._offline_since = None
            self._reason = ""
            self._backoff = self._retry_s

    def _read(
        self,
        what: str,
        online: Callable[[], R],
        remember: Callable[[R], None],
        offline: Callable[[], Stored[R] | None],
    ) -> R:
        try:
            value = self._ask(online)
        except InstanceUnavailableError as exc:
            stored = self._mirrored(offline)
            if stored is None:
                raise InstanceUnavailableError(
                    f"{exc}; this station has no copy of {what} yet (it is kept once the instance has been "
                    "reached)"
                ) from None
            return stored.value
        self._keep(remember, value)
        return value

    @staticmethod
    def _mirrored(offline: Callable[[], Stored[R] | None]) -> Stored[R] | None:
        try:
            return offline()
        except MirrorError as exc:
            log.warning("the mirror cannot be read: %s", exc)
            return None

    @staticmethod
    def _keep(remember: Callable[[R], None], value: R) -> None:
        """A mirror that cannot be written costs the offline copy, never the online answer."""
        try:
            remember(value)
        except MirrorError as exc:
            log.warning("the mirror cannot be written: %s", exc)

    def _change(
        self,
        what: str,
        call: Callable[[], R],
        kept_in: _Collection | None = None,
        dropped: Callable[[], None] | None = None,
    ) -> R:
        """A change only the instance can make; what it creates joins the mirror (`kept_in`) at once, and
        what it deletes leaves it (`dropped`), so the offline copy never shows what this station removed."""
        try:
            result = self._ask(call)
        except InstanceUnavailableError as exc:
            raise InstanceUnavailableError(
                f"{what} needs the instance, which cannot be reached ({exc}); try again when it is back"
            ) from None
        if kept_in is not None:
            collection = kept_in
            self._keep(
                lambda item: self.store.put_items(
                    collection.kind, [item], collection.key, collection.searched
                ),
                result,
            )
        if dropped is not None:
            self._keep(lambda _result: dropped(), result)
        return result

    def _page(self, collection: _Collection, page: PageRequest, online: Callable[[], Page[R]]) -> Page[R]:
        def remember(result: Page[R]) -> None:
            self.store.put_items(collection.kind, result.items, collection.key, collection.searched)

        return self._read(
            f"the {collection.kind} list",
            online,
            remember,
            lambda: self.store.page(collection.kind, collection.tp, page),
        )

    def _one(self, collection: _Collection, name: str, online: Callable[[], R]) -> R:
        def remember(item: R) -> None:
            self.store.put_items(collection.kind, [item], collection.key, collection.searched)

        def offline() -> Stored[R] | None:
            stored = self.store.item(collection.kind, name, collection.tp)
            if (
                stored is None
                and self.store.page(collection.kind, collection.tp, PageRequest(limit=1)) is not None
            ):
                # The whole list is mirrored and has no such item: the instance would say the same.
                raise NotFoundError(f"no {collection.kind.replace('_', ' ')} named {name!r} (in the mirror)")
            return stored

        return self._read(f"{collection.kind.replace('_', ' ')} {name!r}", online, remember, offline)

    def _singleton(self, kind: str, tp: Any, online: Callable[[], R]) -> R:
        def offline() -> Stored[R] | None:
            return self.store.singleton(kind, tp)

        return self._read(
            f"the instance's {kind.replace('_', ' ')}",
            online,
            lambda value: self.store.put_singleton(kind, value),
            offline,
        )

    # --- refresh -----------------------------------------------------------------------------------
    def refresh(self) -> RefreshReport:
        """Fetch everything the mirror keeps; raises InstanceUnavailableError when it cannot."""
        started = time.perf_counter()
        remote = self.remote
        items = 0
        for kind, fetch in (
            ("info", remote.info),
            ("dashboard_summary", remote.dashboard_summary),
            ("instance_params", remote.instance_params),
            ("certificates", remote.certificates),
        ):
            self.store.put_singleton(kind, self._ask(fetch, force=True))
            items += 1
        listed: dict[str, list[Any]] = {}
        for collection, listing in (
            (BATCHES, remote.list_batches),
            (POLICIES, remote.list_policies),
            (TASKS, remote.list_tasks),
            (IMAGES, remote.list_images),
            (FIRMWARES, remote.list_firmwares),
            (KEYS, remote.list_signing_keys),
            (USERS, remote.list_users),
        ):
            try:
                everything = self._ask(partial(_everything, listing))
            except NotFoundError as exc:
                # A listing names nothing, so "not found" means the instance has no such listing: it is
                # an older version. The rest still refreshes; this part of the mirror stays as it was.
                log.warning(
                    "the instance does not list %s (%s); update it to mirror them", collection.kind, exc
                )
                continue
            listed[collection.kind] = everything
            items += self.store.replace_collection(
                collection.kind, everything, collection.key, collection.searched
            )
        newest = self._ask(lambda: remote.list_activity(PageRequest(limit=ACTIVITY_KEPT)))
        items += self.store.replace_collection(ACTIVITY.kind, newest.items, ACTIVITY.key, ACTIVITY.searched)
        tasks = {task.name: task for task in listed.get(TASKS.kind, ())}
        for name in self.store.mirrored_tasks() if TASKS.kind in listed else ():
            # Signing is work on the instance and an entry in its log: sign again only for a changed task.
            task = tasks.get(name)
            if task is None:
                self.store.drop_task_images(name)  # deleted on the instance: nothing runs it any more
            elif not self.store.task_images_match(name, task):
                self.store.put_task_images(
                    name, self._ask(partial(remote.task_images, name)), signed_for=task
                )
                items += 1
        items += self._refresh_certificates()
        batches = {batch.name: batch for batch in listed.get(BATCHES.kind, ())}
        added = 0
        for name in self.store.tracked_batches() if BATCHES.kind in listed else ():
            if name in batches:
                added += self.refresh_devices(name, batches[name].counts)
            else:
                self.store.forget_batch(name)  # deleted on the instance (by another station)
        return RefreshReport(items=items, devices_added=added, seconds=time.perf_counter() - started)

    def _refresh_certificates(self) -> int:
        known = self.store.keys(DEVICE_CERTIFICATES.kind)
        fetched = 0
        for start in range(0, len(known), MAX_PAGE_SIZE):
            part = known[start : start + MAX_PAGE_SIZE]
            found = self._ask(partial(self.remote.device_certificates, part))
            self.store.put_items(
                DEVICE_CERTIFICATES.kind, found, DEVICE_CERTIFICATES.key, DEVICE_CERTIFICATES.searched
            )
            fetched += len(found)
        return fetched

    def refresh_devices(self, batch: str, counts: DeviceCounts | None = None) -> int:
        """Bring one batch's mirrored devices up to date; return how many were fetched.

        Devices are listed in the order they were added and an offset is exactly a position, so the
        mirror asks only from its last device on. When that device is no longer where the mirror has it
        (devices were moved out), the batch is fetched anew: correct first, cheap when nothing moved.
        A device already mirrored that changed state (enrolled, revoked, ...) does not move, so with the
        batch's per-state `counts` (from the batch listing) the mirror compares its own: when they differ
        the batch is fetched anew too. When devices were added between the listing and this fetch the
        totals differ and the comparison waits for the next refresh. Known limit: two devices trading
        states between two refreshes leave the counts equal and are seen at the next full fetch.
        """
        known = self.store.device_count(batch)
        last = self.store.last_device(batch)
        fetched = self._fetch_devices(batch, known, last)
        if counts is not None:
            mirrored = self.store.state_counts(batch)
            if mirrored.total == counts.total and mirrored != counts:
                fetched += self._fetch_devices(batch, 0, None, reset=True)
        return fetched

    def _fetch_devices(self, batch: str, known: int, last: Device | None, *, reset: bool = False) -> int:
        """Devices from position `known` on (all, anew, when the device at `known - 1` is not `last`)."""
        start = known
        if known and last is not None:
            probe = self._ask(lambda: self.remote.list_devices(batch, PageRequest(offset=known - 1, limit=1)))
            if not probe.items or probe.items[0].device_id != last.device_id:
                start, reset = 0, True
        fetched = 0
        while True:
            request = PageRequest(offset=start, limit=MAX_PAGE_SIZE)
            page = self._ask(partial(self.remote.list_devices, batch, request))
            self.store.append_devices(batch, start, page.items, reset=reset)
            reset = False
            fetched += len(page.items)
            start += len(page.items)
            if not page.items or not page.has_more:
                return fetched

    # --- identity and overview ---------------------------------------------------------------------
    def info(self) -> InstanceInfo:
        def offline() -> Stored[InstanceInfo] | None:
            stored: Stored[InstanceInfo] | None = self.store.singleton("info", InstanceInfo)
            who = self._acting_as
            if stored is None or who is None or stored.value.actor == who:
                return stored
            user = self.store.item(USERS.kind, who, User)
            role = user.value.role if user is not None else Role.CONTRIBUTOR  # never more than known
            return Stored(replace(stored.value, actor=who, role=role), stored.refreshed_at)

        return self._read(
            "the instance's info",
            self.remote.info,
            lambda value: self.store.put_singleton("info", value),
            offline,
        )

    def dashboard_summary(self) -> DashboardSummary:
        return self._singleton("dashboard_summary", DashboardSummary, self.remote.dashboard_summary)

    def close(self) -> None:
        try:
            self.remote.close()
        finally:
            self.store.close()

    # --- batches and devices -----------------------------------------------------------------------
    def create_batch(
        self,
        name: str,
        policy: str = DEFAULT_POLICY,
        firmware: str | None = None,
        attribute_filters: Sequence[tuple[str, str]] = (),
    ) -> Batch:
        return self._change(
            f"creating batch {name!r}",
            lambda: self.remote.create_batch(name, policy, firmware, attribute_filters),
            BATCHES,
        )

    def list_batches(self, page: PageRequest = PageRequest()) -> Page[Batch]:
        return self._page(BATCHES, page, lambda: self.remote.list_batches(page))

    def get_batch(self, name: str) -> Batch:
        return self._one(BATCHES, name, lambda: self.remote.get_batch(name))

    def delete_batch(self, name: str) -> None:
        def dropped() -> None:
            self.store.drop_item(BATCHES.kind, name)
            self.store.forget_batch(name)

        self._change(f"deleting batch {name!r}", lambda: self.remote.delete_batch(name), dropped=dropped)

    def set_batch_policy(self, batch: str, policy: str) -> Batch:
        return self._change(
            f"giving batch {batch!r} policy {policy!r}",
            lambda: self.remote.set_batch_policy(batch, policy),
            BATCHES,
        )

    def add_devices(
        self, batch: str, device_ids: Sequence[str], *, idempotency_key: str | None = None
    ) -> AddDevicesResult:
        """Unreachable: the plain InstanceUnavailableError, which the DeviceID journal queues."""
        self.store.track_batch(batch)
        return self._ask(lambda: keyed_add(self.remote, batch, device_ids, idempotency_key))

    def list_devices(self, batch: str, page: PageRequest = PageRequest()) -> Page[Device]:
        return self._read(
            f"the devices of batch {batch!r}",
            lambda: self.remote.list_devices(batch, page),
            lambda _page: None,  # positions are kept by refresh_devices, which knows where it stopped
            lambda: self.store.devices_page(batch, page),
        )

    def find_device(self, device_id: str) -> Device | None:
        try:
            return self._ask(lambda: self.remote.find_device(device_id))
        except InstanceUnavailableError as exc:
            stored = self._mirrored(lambda: self.store.find_device(device_id))
            if stored is not None:
                return stored.value
            raise InstanceUnavailableError(
                f"{exc}; device {device_id} is not in this station's copy of the instance"
            ) from None

    def move_devices(
        self, batch: str, device_ids: Sequence[str], *, idempotency_key: str | None = None
    ) -> int:
        self.store.track_batch(batch)
        return self._ask(lambda: keyed_move(self.remote, batch, device_ids, idempotency_key))

    def set_device_state(self, device_ids: Sequence[str], state: DeviceState) -> int:
        return self._change("changing device states", lambda: self.remote.set_device_state(device_ids, state))

    # --- device lifecycle ----------------------------------------------------------------------------
    def _keep_certificates(self, found: Sequence[DeviceCertificate]) -> None:
        self.store.put_items(
            DEVICE_CERTIFICATES.kind, found, DEVICE_CERTIFICATES.key, DEVICE_CERTIFICATES.searched
        )

    def device_certificate(self, device_id: str) -> DeviceCertificate | None:
        wanted = device_id.strip().lower()

        def offline() -> Stored[DeviceCertificate | None] | None:
            stored: Stored[DeviceCertificate | None] | None = self.store.item(
                DEVICE_CERTIFICATES.kind, wanted, DeviceCertificate
            )
            if stored is None:
                known = self.store.find_device(wanted)
                if known is not None and known.value.state is DeviceState.REGISTERED:
                    return Stored(None, known.refreshed_at)  # never enrolled when last seen
            return stored

        return self._read(
            f"the certificate of device {wanted}",
            lambda: self.remote.device_certificate(device_id),
            lambda found: self._keep_certificates([found] if found is not None else []),
            offline,
        )

    def device_certificates(self, device_ids: Sequence[str]) -> tuple[DeviceCertificate, ...]:
        wanted = [device_id.strip().lower() for device_id in device_ids]
        return self._read(
            "the certificates of these devices",
            lambda: self.remote.device_certificates(device_ids),
            self._keep_certificates,
            lambda: self.store.items(DEVICE_CERTIFICATES.kind, wanted, DeviceCertificate),
        )

    def renew_device(self, device_id: str) -> DeviceCertificate:
        return self._change(
            f"renewing device {device_id}", lambda: self.remote.renew_device(device_id), DEVICE_CERTIFICATES
        )

    # --- policies ----------------------------------------------------------------------------------
    def create_policy(
        self,
        name: str,
        connection: ConnectionType = ConnectionType.NONE,
        certificate_days: int = DEFAULT_CERTIFICATE_DAYS,
        auto_renew: bool = True,
        jwt_minutes: int = DEFAULT_JWT_MINUTES,
    ) -> Policy:
        return self._change(
            f"creating policy {name!r}",
            lambda: self.remote.create_policy(name, connection, certificate_days, auto_renew, jwt_minutes),
            POLICIES,
        )

    def list_policies(self, page: PageRequest = PageRequest()) -> Page[Policy]:
        return self._page(POLICIES, page, lambda: self.remote.list_policies(page))

    def get_policy(self, name: str) -> Policy:
        return self._one(POLICIES, name, lambda: self.remote.get_policy(name))

    def update_policy(
        self,
        name: str,
        connection: ConnectionType | None = None,
        certificate_days: int | None = None,
        auto_renew: bool | None = None,
        jwt_minutes: int | None = None,
    ) -> Policy:
        return self._change(
            f"changing policy {name!r}",
            lambda: self.remote.update_policy(name, connection, certificate_days, auto_renew, jwt_minutes),
            POLICIES,
        )

    def delete_policy(self, name: str) -> None:
        self._change(
            f"deleting policy {name!r}",
            lambda: self.remote.delete_policy(name),
            dropped=lambda: self.store.drop_item(POLICIES.kind, name),
        )

    # --- PKI and instance parameters ---------------------------------------------------------------
    def certificates(self) -> tuple[CertificateInfo, ...]:
        return self._singleton("certificates", tuple[CertificateInfo, ...], self.remote.certificates)

    def instance_params(self) -> InstanceParams:
        return self._singleton("instance_params", InstanceParams, self.remote.instance_params)

    def set_instance_params(self, endpoint: str, port: int) -> InstanceParams:
        return self._change(
            "changing the instance parameters", lambda: self.remote.set_instance_params(endpoint, port)
        )

    # --- signing keys ------------------------------------------------------------------------------
    def create_signing_key(self, name: str, key_type: KeyType) -> SigningKey:
        return self._change(
            f"creating signing key {name!r}", lambda: self.remote.create_signing_key(name, key_type), KEYS
        )

    def list_signing_keys(self, page: PageRequest = PageRequest()) -> Page[SigningKey]:
        return self._page(KEYS, page, lambda: self.remote.list_signing_keys(page))

    def get_signing_key(self, name: str) -> SigningKey:
        return self._one(KEYS, name, lambda: self.remote.get_signing_key(name))

    # --- firmware images ---------------------------------------------------------------------------
    def import_image(
        self, name: str, device_type: ChipType, kind: ImageKind, variant: str, data: bytes
    ) -> FirmwareImage:
        return self._change(
            f"importing image {name!r}",
            lambda: self.remote.import_image(name, device_type, kind, variant, data),
            IMAGES,
        )

    def list_images(
        self, page: PageRequest = PageRequest(), device_type: ChipType | None = None
    ) -> Page[FirmwareImage]:
        if device_type is None:
            return self._page(IMAGES, page, lambda: self.remote.list_images(page))
        return self._read(
            "the image catalog",
            lambda: self.remote.list_images(page, device_type),
            lambda result: self.store.put_items(IMAGES.kind, result.items, IMAGES.key, IMAGES.searched),
            lambda: _of_device_type(
                self.store.page(IMAGES.kind, IMAGES.tp, PageRequest(limit=MAX_PAGE_SIZE)), page, device_type
            ),
        )

    # --- firmwares ---------------------------------------------------------------------------------
    def upload_firmware(
        self,
        name: str,
        version: str,
        device_type: ChipType,
        attributes: Sequence[tuple[str, str]],
        data: bytes,
        key: str,
    ) -> Firmware:
        return self._change(
            f"uploading firmware {name!r}",
            lambda: self.remote.upload_firmware(name, version, device_type, attributes, data, key),
            FIRMWARES,
        )

    def list_firmwares(self, page: PageRequest = PageRequest()) -> Page[Firmware]:
        return self._page(FIRMWARES, page, lambda: self.remote.list_firmwares(page))

    def get_firmware(self, name: str) -> Firmware:
        return self._one(FIRMWARES, name, lambda: self.remote.get_firmware(name))

    def delete_firmware(self, name: str) -> None:
        self._change(
            f"deleting firmware {name!r}",
            lambda: self.remote.delete_firmware(name),
            dropped=lambda: self.store.drop_item(FIRMWARES.kind, name),
        )

    def set_batch_firmware(self, batch: str, firmware: str | None) -> Batch:
        return self._change(
            f"assigning a firmware to batch {batch!r}",
            lambda: self.remote.set_batch_firmware(batch, firmware),
            BATCHES,
        )

    # --- provisioning tasks ------------------------------------------------------------------------
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
        return self._change(
            f"creating task {name!r}",
            lambda: self.remote.create_task(
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
            TASKS,
        )

    def list_tasks(self, page: PageRequest = PageRequest()) -> Page[ProvisioningTask]:
        return self._page(TASKS, page, lambda: self.remote.list_tasks(page))

    def get_task(self, name: str) -> ProvisioningTask:
        return self._one(TASKS, name, lambda: self.remote.get_task(name))

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
        return self._change(
            f"changing task {name!r}",
            lambda: self.remote.update_task(
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
        def dropped() -> None:
            self.store.drop_item(TASKS.kind, name)
            self.store.drop_task_images(name)

        self._change(f"deleting task {name!r}", lambda: self.remote.delete_task(name), dropped=dropped)

    def task_images(self, task: str) -> TaskImages:
        """Signed images are public artefacts: the ones of tasks this station used are kept and refreshed."""

        def offline() -> Stored[TaskImages] | None:
            return self.store.task_images(task, TaskImages)

        return self._read(
            f"the signed images of task {task!r}",
            lambda: self.remote.task_images(task),
            lambda images: self.store.put_task_images(task, images),
            offline,
        )

    # --- users and activity ------------------------------------------------------------------------
    def create_user(self, username: str, password: str, role: Role) -> User:
        return self._change(
            f"creating user {username!r}", lambda: self.remote.create_user(username, password, role), USERS
        )

    def list_users(self, page: PageRequest = PageRequest()) -> Page[User]:
        return self._page(USERS, page, lambda: self.remote.list_users(page))

    def set_user_role(self, username: str, role: Role) -> User:
        return self._change(
            f"changing the role of {username!r}", lambda: self.remote.set_user_role(username, role), USERS
        )

    def delete_user(self, username: str) -> None:
        self._change(
            f"deleting user {username!r}",
            lambda: self.remote.delete_user(username),
            dropped=lambda: self.store.drop_item(USERS.kind, username),
        )

    def list_activity(self, page: PageRequest = PageRequest()) -> Page[ActivityEntry]:
        return self._read(
            "the activity log",
            lambda: self.remote.list_activity(page),
            lambda _result: None,  # refresh keeps the newest entries; pages of old ones are not the mirror's
            lambda: self.store.page(ACTIVITY.kind, ACTIVITY.tp, page),
        )

    def discard_device_push(self, device_id: str, batch: str, reason: str) -> None:
        self._change(
            f"discarding DeviceID {device_id}",
            lambda: self.remote.discard_device_push(device_id, batch, reason),
        )


def _everything(listing: Callable[[PageRequest], Page[Any]]) -> list[Any]:
    return list(iterate_pages(listing))


def _of_device_type(
    stored: Stored[Page[FirmwareImage]] | None, page: PageRequest, device_type: ChipType
) -> Stored[Page[FirmwareImage]] | None:
    if stored is None:
        return None
    needle = page.search.lower()
    matching = [
        image
        for image in stored.value.items
        if image.device_type is device_type
        and (not needle or needle in f"{image.name}\n{image.kind.value}\n{image.variant}".lower())
    ]
    window = tuple(matching[page.offset : page.offset + page.limit])
    return Stored(Page(items=window, total=len(matching), offset=page.offset), stored.refreshed_at)
