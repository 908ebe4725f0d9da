"""The mirror against a real served instance over HTTPS, with the network cut by a loopback proxy.

Online behaviour is the contract suite's ("mirror" implementation); these tests are about what happens
when the link goes: reads from the mirror, changes refused with a sentence, pushes left to the outbox,
and the incremental device refresh.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from app.domain.chips import ChipType
from app.domain.errors import InstanceUnavailableError, NotFoundError
from app.domain.kinds import BootloaderKind, DeviceState, IefKind, KeyType, Role
from app.domain.records import Batch, PageRequest, Policy
from app.instance.mirror.instance import MirrorInstance
from app.instance.mirror.store import MirrorStore
from app.instance.remote.connection import Connection
from app.instance.remote.instance import RemoteInstance
from app.server.http_api import create_app
from app.server.https_server import HttpsServer, Listen, bind, tls_context
from tests.support.tcp_proxy import TcpProxy


class FakeClock:
    """Monotonic seconds that a test moves by hand (the retry backoff, not the network, is what it drives)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def proxy(remote_instances: Any) -> Iterator[TcpProxy]:
    link = TcpProxy(int(remote_instances.url.rsplit(":", 1)[1]))
    yield link
    link.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mirror(
    remote_instances: Any, proxy: TcpProxy, tmp_path: Path, clock: FakeClock
) -> Iterator[MirrorInstance]:
    token = remote_instances.served.issue_token(None)
    remote = RemoteInstance(
        Connection(proxy.url, remote_instances.ca_file, token=token, connect_timeout_s=2, read_timeout_s=2)
    )
    instance = MirrorInstance(
        remote, MirrorStore(tmp_path / "mirror.sqlite3", remote_instances.url), clock=clock
    )
    yield instance
    instance.close()


def _ids(count: int, tag: str) -> list[str]:
    import hashlib

    return [hashlib.sha256(f"{tag}-{i}".encode()).hexdigest() for i in range(count)]


def _seed(mirror: MirrorInstance) -> None:
    mirror.create_signing_key("line-key", KeyType.RSA_3072)
    mirror.create_task("line-task", ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, "line-key")
    mirror.create_policy("line-policy", certificate_days=30)
    mirror.create_batch("line-batch", policy="line-policy")
    mirror.add_devices("line-batch", _ids(300, "seed"))
    mirror.create_user("operator-1", "a long enough password", Role.CONTRIBUTOR)
    mirror.task_images("line-task")  # a task this station used: its signed images are kept


def _reads(mirror: MirrorInstance) -> dict[str, object]:
    """Every read a page makes, the same online and offline."""
    return {
        "batches": mirror.list_batches(),
        "batch": mirror.get_batch("line-batch"),
        "policies": mirror.list_policies(),
        "policy": mirror.get_policy("line-policy"),
        "tasks": mirror.list_tasks(),
        "task": mirror.get_task("line-task"),
        "images": mirror.task_images("line-task"),
        "users": mirror.list_users(),
        "params": mirror.instance_params(),
        "certificates": mirror.certificates(),
        "devices": mirror.list_devices("line-batch", PageRequest(offset=100, limit=50)),
        "keys": mirror.list_signing_keys(),
        "summary": mirror.dashboard_summary(),
    }


def test_offline_reads_are_served_from_the_mirror_and_say_so(mirror: MirrorInstance, proxy: TcpProxy) -> None:
    _seed(mirror)
    mirror.refresh()
    online = _reads(mirror)
    assert mirror.status().online

    proxy.set_mode("refuse")
    offline = _reads(mirror)
    assert offline == online
    status = mirror.status()
    assert not status.online
    assert status.offline_since is not None and status.data_from is not None
    assert status.data_from <= status.offline_since
    assert status.reason


def test_offline_searches_and_pages_like_the_instance(mirror: MirrorInstance, proxy: TcpProxy) -> None:
    for name in ("alpha-1", "alpha-2", "beta-1"):
        mirror.create_batch(name)
    mirror.refresh()
    online = (
        mirror.list_batches(PageRequest(search="ALPHA")),
        mirror.list_batches(PageRequest(offset=1, limit=1)),
    )
    proxy.set_mode("refuse")
    offline = (
        mirror.list_batches(PageRequest(search="ALPHA")),
        mirror.list_batches(PageRequest(offset=1, limit=1)),
    )
    assert offline == online
    assert [b.name for b in offline[0].items] == ["alpha-1", "alpha-2"]
    with pytest.raises(NotFoundError, match="no batch named 'gamma'"):
        mirror.get_batch("gamma")


def test_offline_changes_are_refused_with_a_sentence(mirror: MirrorInstance, proxy: TcpProxy) -> None:
    mirror.refresh()
    proxy.set_mode("refuse")
    with pytest.raises(InstanceUnavailableError, match="creating signing key 'k' needs the instance"):
        mirror.create_signing_key("k", KeyType.ECDSA_P256)
    with pytest.raises(InstanceUnavailableError, match="creating user 'u' needs the instance"):
        mirror.create_user("u", "a long enough password", Role.CONTRIBUTOR)
    with pytest.raises(InstanceUnavailableError, match="creating task 't' needs the instance"):
        mirror.create_task("t", ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, "k")
    with pytest.raises(InstanceUnavailableError, match="creating policy 'p' needs the instance"):
        mirror.create_policy("p")
    with pytest.raises(InstanceUnavailableError, match="changing policy 'default' needs the instance"):
        mirror.update_policy("default", certificate_days=30)
    with pytest.raises(InstanceUnavailableError, match="deleting policy 'p' needs the instance"):
        mirror.delete_policy("p")
    with pytest.raises(InstanceUnavailableError, match="giving batch 'b' policy 'p' needs the instance"):
        mirror.set_batch_policy("b", "p")


def test_an_offline_push_raises_what_the_journal_queues(mirror: MirrorInstance, proxy: TcpProxy) -> None:
    mirror.create_batch("b")
    proxy.set_mode("refuse")
    with pytest.raises(InstanceUnavailableError) as raised:
        mirror.add_devices("b", _ids(1, "x"), idempotency_key="key-1")
    assert "needs the instance" not in str(raised.value)  # the plain "unreachable": the pusher queues it
    assert mirror.store.tracked_batches() == ["b"]


def test_what_was_never_mirrored_says_so(mirror: MirrorInstance, proxy: TcpProxy) -> None:
    proxy.set_mode("refuse")
    with pytest.raises(InstanceUnavailableError, match="this station has no copy of the batch list yet"):
        mirror.list_batches()
    with pytest.raises(InstanceUnavailableError, match="no copy of the devices of batch 'never'"):
        mirror.list_devices("never")


def test_after_a_failure_the_instance_is_not_asked_again_until_the_retry_time(
    mirror: MirrorInstance, proxy: TcpProxy, clock: FakeClock
) -> None:
    mirror.create_batch("b")
    mirror.refresh()
    proxy.set_mode("refuse")
    mirror.list_batches()
    tries = proxy.connections
    proxy.set_mode("pass")
    for _ in range(5):
        assert [b.name for b in mirror.list_batches().items] == ["b"]
    assert proxy.connections == tries  # served from the mirror without a connection attempt
    assert not mirror.status().online

    clock.now += 60
    mirror.list_batches()
    assert mirror.status().online
    assert proxy.connections > tries


def test_devices_are_fetched_incrementally(remote_instances: Any, mirror: MirrorInstance) -> None:
    mirror.create_batch("line")
    mirror.create_batch("other")
    mirror.add_devices("line", _ids(1200, "a"))
    assert mirror.refresh_devices("line") == 1200
    mirror.add_devices("line", _ids(7, "b"))
    assert mirror.refresh_devices("line") == 7  # only what was added since
    assert mirror.refresh_devices("line") == 0

    mirror.move_devices("other", _ids(3, "a"))  # three leave: positions shift, the mirror starts over
    assert mirror.refresh_devices("line") == 1204
    remote = remote_instances(None)
    assert mirror.store.devices_page("line", PageRequest(limit=2000)).value == remote.list_devices(  # type: ignore[union-attr]
        "line", PageRequest(limit=2000)
    )


def test_a_mirror_of_another_instance_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "mirror.sqlite3"
    first = MirrorStore(path, "https://line-1:8443")
    first.put_singleton("params", ["endpoint", 6000])
    first.track_batch("b")
    first.close()
    again = MirrorStore(path, "https://line-1:8443")
    assert again.tracked_batches() == ["b"]
    again.close()
    other = MirrorStore(path, "https://line-2:8443")
    assert other.tracked_batches() == []
    assert other.oldest_refresh() is None
    other.close()


def test_offline_info_names_the_signed_in_user_with_their_mirrored_role(
    remote_instances: Any, proxy: TcpProxy, tmp_path: Path, clock: FakeClock
) -> None:
    admin = remote_instances(None)
    admin.create_user("carol", "a long enough password", Role.CONTRIBUTOR)
    token = remote_instances.served.issue_token(None)
    for who, expected in (
        ("carol", Role.CONTRIBUTOR),
        ("stranger", Role.CONTRIBUTOR),
        (None, Role.ADMINISTRATOR),
    ):
        remote = RemoteInstance(
            Connection(proxy.url, remote_instances.ca_file, token=token, connect_timeout_s=2)
        )
        store = MirrorStore(tmp_path / "acting.sqlite3", remote_instances.url)
        mirror = MirrorInstance(remote, store, clock=clock, acting_as=who)
        proxy.set_mode("pass")
        mirror.refresh()  # refreshed by the administrator's token: the mirrored info names them
        proxy.set_mode("refuse")
        info = mirror.info()
        assert (info.actor, info.role) == (who or admin.info().actor, expected)
        mirror.close()


def test_a_refresh_signs_a_task_again_only_when_the_task_changed(
    remote_instances: Any, mirror: MirrorInstance
) -> None:
    _seed(mirror)  # the station used "line-task": its signed images are mirrored
    admin = remote_instances(None)

    def signings() -> int:
        return admin.list_activity(PageRequest(search="task.sign-images")).total

    mirror.refresh()  # the first refresh learns which task record the images were signed for
    before = signings()
    mirror.refresh()
    mirror.refresh()
    assert signings() == before  # nothing changed: no work on the instance, no log entry

    task = mirror.get_task("line-task")
    mirror.update_task("line-task", task.device_type, task.bootloader, IefKind.NON_DEBUG, task.signing_key)
    mirror.refresh()
    assert signings() == before + 1
    assert mirror.store.task_images_match("line-task", mirror.get_task("line-task"))


def test_device_certificates_seen_online_are_kept_refreshed_and_served_offline(
    remote_instances: Any, mirror: MirrorInstance, proxy: TcpProxy
) -> None:
    enrolled, renewed, registered = _ids(3, "life")
    mirror.create_batch("life")
    mirror.add_devices("life", [enrolled, renewed, registered])
    served = remote_instances.served.station
    desk = served.device_enrolment()
    for device in (enrolled, renewed):
        desk.enrol(device, ec.generate_private_key(ec.SECP256R1()).public_key())
    assert [c.device_id for c in mirror.device_certificates([enrolled, renewed, registered])] == [
        enrolled,
        renewed,
    ]
    served.renew_device(renewed)  # on the instance, behind the mirror's back
    mirror.refresh()
    online = mirror.device_certificates([enrolled, renewed, registered])

    proxy.set_mode("refuse")
    assert mirror.device_certificates([enrolled, renewed, registered]) == online
    kept = mirror.device_certificate(renewed)
    assert kept is not None and kept.state is DeviceState.RENEWED
    assert mirror.device_certificate(registered) is None  # registered when last seen: no certificate
    with pytest.raises(InstanceUnavailableError, match=f"renewing device {enrolled} needs the instance"):
        mirror.renew_device(enrolled)
    (stranger,) = _ids(1, "stranger")
    with pytest.raises(InstanceUnavailableError, match="no copy of the certificate of device"):
        mirror.device_certificate(stranger)


def test_what_this_station_deletes_leaves_the_offline_copy_at_once(
    mirror: MirrorInstance, proxy: TcpProxy
) -> None:
    _seed(mirror)
    mirror.create_batch("spare")
    mirror.add_devices("spare", _ids(3, "spare"))
    mirror.refresh()
    mirror.delete_batch("line-batch")  # the first, so the deletes below are not all at the end
    mirror.delete_user("operator-1")
    mirror.delete_task("line-task")

    proxy.set_mode("refuse")  # no refresh in between: the offline copy must already agree
    assert [b.name for b in mirror.list_batches().items] == ["spare"]
    with pytest.raises(NotFoundError, match="no batch named 'line-batch'"):
        mirror.get_batch("line-batch")
    with pytest.raises(InstanceUnavailableError, match="line-batch"):
        mirror.list_devices("line-batch")  # its devices are no longer served either
    assert "operator-1" not in [u.username for u in mirror.list_users().items]
    with pytest.raises(NotFoundError, match="no task named 'line-task'"):
        mirror.get_task("line-task")
    with pytest.raises(InstanceUnavailableError, match="line-task"):
        mirror.task_images("line-task")
    assert mirror.list_devices("spare").total == 3


def test_a_refresh_forgets_a_batch_another_station_deleted(
    remote_instances: Any, mirror: MirrorInstance
) -> None:
    mirror.create_batch("line")
    mirror.create_batch("other")
    mirror.add_devices("line", _ids(5, "line"))
    mirror.add_devices("other", _ids(2, "other"))
    mirror.refresh()
    remote_instances(None).delete_batch("line")  # elsewhere: this station is not told

    report = mirror.refresh()  # the tracked batch is gone: forgotten, not an error that stops the refresh

    assert report.devices_added == 0
    assert mirror.store.tracked_batches() == ["other"]
    assert mirror.store.device_count("line") == 0


def test_a_refresh_sees_devices_that_changed_state(remote_instances: Any, mirror: MirrorInstance) -> None:
    mirror.create_batch("line")
    ids = _ids(40, "state")
    mirror.add_devices("line", ids)
    mirror.refresh()
    admin = remote_instances(None)
    admin.set_device_state(ids[10:13], DeviceState.REVOKED)  # same devices, same positions, new states

    mirror.refresh()

    mirrored = mirror.store.devices_page("line", PageRequest(limit=100))
    assert mirrored is not None
    assert mirrored.value == admin.list_devices("line", PageRequest(limit=100))
    assert [d.state for d in mirrored.value.items].count(DeviceState.REVOKED) == 3
    before = mirror.refresh().devices_added
    assert before == 0, "with nothing changed a refresh fetches no device"


def test_firmwares_are_read_offline_from_the_mirror_and_changed_only_online(
    mirror: MirrorInstance, proxy: TcpProxy
) -> None:
    from app.sim.images import build_sim_ief

    mirror.create_signing_key("fw-key", KeyType.ECDSA_P256)
    for name, version in (("app-2.0.0", "2.0.0"), ("app-2.1.0", "2.1.0")):
        image = build_sim_ief(ChipType.ESP32C3, IefKind.NON_DEBUG, version=version)
        mirror.upload_firmware(name, version, ChipType.ESP32C3, [("hw", "rev2")], image, "fw-key")
    mirror.create_batch("line")
    mirror.set_batch_firmware("line", "app-2.1.0")
    mirror.delete_firmware("app-2.0.0")
    mirror.refresh()
    online = (mirror.list_firmwares(), mirror.get_firmware("app-2.1.0"), mirror.get_batch("line"))

    proxy.set_mode("refuse")
    assert (mirror.list_firmwares(), mirror.get_firmware("app-2.1.0"), mirror.get_batch("line")) == online
    assert [f.name for f in online[0].items] == ["app-2.1.0"] and online[2].firmware == "app-2.1.0"
    with pytest.raises(NotFoundError, match=r"no firmware named 'app-2\.0\.0'"):
        mirror.get_firmware("app-2.0.0")
    with pytest.raises(
        InstanceUnavailableError, match="assigning a firmware to batch 'line' needs the instance"
    ):
        mirror.set_batch_firmware("line", None)
    with pytest.raises(InstanceUnavailableError, match=r"deleting firmware 'app-2\.1\.0' needs the instance"):
        mirror.delete_firmware("app-2.1.0")
    with pytest.raises(InstanceUnavailableError, match="uploading firmware 'x' needs the instance"):
        mirror.upload_firmware("x", "1.0", ChipType.ESP32C3, [], b"", "fw-key")


def test_a_refresh_from_an_older_instance_without_a_listing_keeps_the_rest(
    remote_instances: Any, tmp_path: Path
) -> None:
    """During an upgrade a station may be newer than the served instance: a listing the instance does not
    have yet (policies, here) is skipped; everything else is still mirrored."""
    app = create_app(remote_instances.served)
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", "") != "/v1/policies"]
    certificate = remote_instances.served.station.issue_server_certificate(["127.0.0.1"])
    server = HttpsServer(app, bind(Listen("127.0.0.1", 0)), tls_context(certificate, tmp_path))
    server.start()
    url = f"https://127.0.0.1:{server.port}"
    token = remote_instances.served.issue_token(None)
    mirror = MirrorInstance(
        RemoteInstance(Connection(url, remote_instances.ca_file, token=token)),
        MirrorStore(tmp_path / "older.sqlite3", url),
    )
    try:
        mirror.create_batch("line")
        with pytest.raises(NotFoundError, match="/v1/policies"):
            mirror.list_policies()

        report = mirror.refresh()

        assert report.items > 0
        assert mirror.store.page("batch", Batch, PageRequest()) is not None
        assert [b.name for b in mirror.store.page("batch", Batch, PageRequest()).value.items] == ["line"]  # type: ignore[union-attr]
        assert mirror.store.page("policy", Policy, PageRequest()) is None, "nothing mirrored, nothing made up"
    finally:
        mirror.close()
        server.stop()
