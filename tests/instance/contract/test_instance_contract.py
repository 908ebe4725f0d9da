"""The Instance contract: identity, batches, devices, PKI, parameters and the dashboard.

Written only against the `Instance` protocol, so every implementation (local today; remote and mirror
later) must pass it unchanged. Keys, images, tasks, users and activity have sibling contract files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from cryptography import x509

from app.domain.batch_file import BatchFileError, parse_batch_file
from app.domain.chips import ChipType
from app.domain.errors import ConflictError, NotFoundError, ValidationError
from app.domain.kinds import DeviceState, HealthLevel, IefKind, KeyType, Role
from app.domain.records import PageRequest
from app.instance.api import DEFAULT_IEF_PORT, DEFAULT_POLICY, Instance
from app.sim.images import build_sim_ief

IdMaker = Callable[..., list[str]]


# --- identity ------------------------------------------------------------------------------------


def test_implements_the_protocol(instance: Instance) -> None:
    assert isinstance(instance, Instance)


def test_info_names_the_instance_and_the_acting_administrator(instance: Instance) -> None:
    info = instance.info()
    assert info.name
    assert info.kind in ("local", "remote")
    assert info.location
    assert info.version
    assert info.role is Role.ADMINISTRATOR
    assert info.actor


# --- batches -------------------------------------------------------------------------------------


def _firmware(instance: Instance, name: str, attributes: list[tuple[str, str]]) -> None:
    instance.create_signing_key(f"{name}-key", KeyType.ECDSA_P256)
    image = build_sim_ief(ChipType.ESP32, IefKind.NON_DEBUG, version="1.2.0")
    instance.upload_firmware(name, "1.2.0", ChipType.ESP32, attributes, image, f"{name}-key")


def test_create_batch_returns_what_get_batch_reads_back(instance: Instance) -> None:
    instance.create_policy("strict")
    _firmware(instance, "fw-1.2", [("site", "x")])
    created = instance.create_batch(
        "line-a", policy="strict", firmware="fw-1.2", attribute_filters=[("site", "x")]
    )
    assert created.name == "line-a"
    assert created.policy == "strict"
    assert created.firmware == "fw-1.2"
    assert created.attribute_filters == (("site", "x"),)
    assert created.counts.total == 0
    assert instance.get_batch("line-a") == created


def test_a_batch_is_created_only_with_a_firmware_it_can_be_offered(instance: Instance) -> None:
    with pytest.raises(NotFoundError, match="no firmware named 'fw-9'"):
        instance.create_batch("line-b", firmware="fw-9")
    _firmware(instance, "fw-x", [("site", "x")])
    with pytest.raises(
        ValidationError, match="does not pass the attribute filters of batch 'line-b', site=y"
    ):
        instance.create_batch("line-b", firmware="fw-x", attribute_filters=[("site", "y")])
    assert instance.list_batches().total == 0, "nothing is created when the firmware is refused"


def test_create_batch_defaults(instance: Instance) -> None:
    batch = instance.create_batch("  spaced  ")
    assert batch.name == "spaced"
    assert batch.policy == DEFAULT_POLICY
    assert batch.firmware is None
    assert batch.attribute_filters == ()
    assert abs((datetime.now(UTC) - batch.created_at).total_seconds()) < 60


def test_batch_names_are_unique(instance: Instance) -> None:
    instance.create_batch("line-a")
    with pytest.raises(ConflictError, match="a batch named 'line-a' already exists"):
        instance.create_batch("line-a")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "batch name cannot be empty"),
        ("   ", "batch name cannot be empty"),
        ("x" * 65, "batch name is 65 characters; at most 64"),
        ("bad\x07name", "contains a control character"),
    ],
)
def test_bad_batch_names_are_refused(instance: Instance, name: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        instance.create_batch(name)
    assert instance.list_batches().total == 0


def test_bad_policy_and_filter_are_refused(instance: Instance) -> None:
    with pytest.raises(ValidationError, match="policy name cannot be empty"):
        instance.create_batch("a", policy=" ")
    with pytest.raises(ValidationError, match="attribute filter key name cannot be empty"):
        instance.create_batch("a", attribute_filters=[("", "v")])
    with pytest.raises(ValidationError, match=r"attribute filter #0 must be a \(key, value\) pair"):
        instance.create_batch("a", attribute_filters=[("only-key",)])  # type: ignore[list-item]


def test_unknown_batch_is_not_found(instance: Instance) -> None:
    with pytest.raises(NotFoundError, match="there is no batch named 'nope'"):
        instance.get_batch("nope")
    with pytest.raises(NotFoundError, match="there is no batch named 'nope'"):
        instance.list_devices("nope")
    with pytest.raises(NotFoundError, match="there is no batch named 'nope'"):
        instance.add_devices("nope", [])


def test_list_batches_pages_by_name_with_search(instance: Instance) -> None:
    for name in ["delta", "alpha", "charlie", "bravo", "alpha-2"]:
        instance.create_batch(name)
    first = instance.list_batches(PageRequest(offset=0, limit=2))
    assert [b.name for b in first.items] == ["alpha", "alpha-2"]
    assert (first.total, first.offset, first.has_more) == (5, 0, True)
    last = instance.list_batches(PageRequest(offset=4, limit=2))
    assert [b.name for b in last.items] == ["delta"]
    assert last.has_more is False
    beyond = instance.list_batches(PageRequest(offset=10, limit=2))
    assert (beyond.items, beyond.total) == ((), 5)
    found = instance.list_batches(PageRequest(search="ALPHA"))
    assert [b.name for b in found.items] == ["alpha", "alpha-2"]
    assert found.total == 2


def test_batch_search_treats_wildcards_literally(instance: Instance) -> None:
    instance.create_batch("50%_done")
    instance.create_batch("500 done")
    assert [b.name for b in instance.list_batches(PageRequest(search="50%")).items] == ["50%_done"]
    assert [b.name for b in instance.list_batches(PageRequest(search="_")).items] == ["50%_done"]


# --- devices -------------------------------------------------------------------------------------


def test_add_devices_counts_and_lists_in_order(instance: Instance, device_ids: IdMaker) -> None:
    instance.create_batch("b")
    ids = device_ids(5)
    result = instance.add_devices("b", ids)
    assert result.added == 5
    assert (result.duplicates_in_input, result.already_present) == (0, 0)
    page = instance.list_devices("b")
    assert [d.device_id for d in page.items] == ids
    assert all(d.batch == "b" and d.state is DeviceState.REGISTERED for d in page.items)
    assert instance.get_batch("b").counts.registered == 5


def test_device_ids_are_stored_lowercase_and_trimmed(instance: Instance, device_ids: IdMaker) -> None:
    instance.create_batch("b")
    (one, two) = device_ids(2)
    instance.add_devices("b", [one.upper(), f"  {two}\n"])
    assert [d.device_id for d in instance.list_devices("b").items] == [one, two]
    found = instance.find_device(one.upper())
    assert found is not None and found.device_id == one


def test_duplicates_in_input_are_skipped_and_reported(instance: Instance, device_ids: IdMaker) -> None:
    instance.create_batch("b")
    a, b, c = device_ids(3)
    result = instance.add_devices("b", [a, b, a, c, b.upper(), a])
    assert result.added == 3
    assert result.duplicates_in_input == 3
    assert result.duplicate_samples == (a, b, a)
    assert [d.device_id for d in instance.list_devices("b").items] == [a, b, c]


def test_a_device_belongs_to_one_batch_only(instance: Instance, device_ids: IdMaker) -> None:
    instance.create_batch("first")
    instance.create_batch("second")
    ids = device_ids(4)
    instance.add_devices("first", ids[:2])
    result = instance.add_devices("second", ids)
    assert result.added == 2
    assert result.already_present == 2
    assert result.present_samples == ((ids[0], "first"), (ids[1], "first"))
    assert [d.device_id for d in instance.list_devices("second").items] == ids[2:]
    found = instance.find_device(ids[0])
    assert found is not None and found.batch == "first"
    assert instance.get_batch("second").counts.total == 2


def test_adding_after_skips_keeps_every_offset_reachable(instance: Instance, device_ids: IdMaker) -> None:
    instance.create_batch("b")
    ids = device_ids(30)
    instance.add_devices("b", ids[0:10])
    instance.add_devices("b", ids[5:20])  # five already present
    instance.add_devices("b", ids[15:30])
    pages = [instance.list_devices("b", PageRequest(offset=o, limit=7)) for o in range(0, 35, 7)]
    assert [d.device_id for p in pages for d in p.items] == ids
    assert [p.has_more for p in pages] == [True, True, True, True, False]
    assert pages[0].total == 30


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("abc", "device #3: a DeviceID is exactly 64 hexadecimal characters, this one has 3"),
        ("g" * 64, "device #3: a DeviceID has only hexadecimal digits 0-9 a-f; 'g' at position 1"),
        ("", "device #3: a DeviceID cannot be empty"),
        (42, "device #3: a DeviceID must be text, not int"),
    ],
)
def test_one_bad_id_rejects_the_whole_call(
    instance: Instance, device_ids: IdMaker, bad: object, message: str
) -> None:
    instance.create_batch("b")
    ids: list[object] = [*device_ids(2), bad, *device_ids(2, tag="more")]
    with pytest.raises(ValidationError, match=message) as caught:
        instance.add_devices("b", ids)  # type: ignore[arg-type]
    assert "nothing was changed" in str(caught.value)
    assert instance.list_devices("b").total == 0
    assert instance.get_batch("b").counts.total == 0


def test_a_single_string_is_not_a_list_of_ids(instance: Instance, device_ids: IdMaker) -> None:
    instance.create_batch("b")
    with pytest.raises(ValidationError, match="must be given as a list of IDs"):
        instance.add_devices("b", device_ids(1)[0])


def test_adding_nothing_changes_nothing(instance: Instance) -> None:
    instance.create_batch("b")
    assert instance.add_devices("b", []).added == 0
    assert instance.get_batch("b").counts.total == 0


def test_batch_file_import_is_whole_or_nothing(instance: Instance, device_ids: IdMaker) -> None:
    instance.create_batch("b")
    ids = device_ids(3)
    result = instance.add_devices("b", parse_batch_file(json.dumps({"devices": ids}).encode()))
    assert result.added == 3
    bad = json.dumps({"devices": [*device_ids(2, tag="new"), "not-an-id"]}, indent=1).encode()
    with pytest.raises(BatchFileError, match="line 5, device #3: a DeviceID has only hexadecimal digits"):
        instance.add_devices("b", parse_batch_file(bad))
    assert instance.get_batch("b").counts.total == 3
    assert [d.device_id for d in instance.list_devices("b").items] == ids


def test_list_devices_deep_offsets_and_search(instance: Instance, device_ids: IdMaker) -> None:
    instance.create_batch("b")
    ids = device_ids(1000)
    instance.add_devices("b", ids)
    tail = instance.list_devices("b", PageRequest(offset=990, limit=50))
    assert [d.device_id for d in tail.items] == ids[990:]
    assert (tail.total, tail.has_more) == (1000, False)
    prefix = ids[500][:3]
    matching = [i for i in ids if i.startswith(prefix)]
    found = instance.list_devices("b", PageRequest(search=prefix.upper()))
    assert [d.device_id for d in found.items] == matching
    assert found.total == len(matching)
    assert instance.list_devices("b", PageRequest(search=ids[7])).total == 1


def test_device_search_must_be_hex(instance: Instance) -> None:
    instance.create_batch("b")
    with pytest.raises(ValidationError, match="device search 'xyz' must be the first hexadecimal digits"):
        instance.list_devices("b", PageRequest(search="xyz"))


def test_find_device(instance: Instance, device_ids: IdMaker) -> None:
    instance.create_batch("b")
    known, unknown = device_ids(2)
    instance.add_devices("b", [known])
    device = instance.find_device(known)
    assert device is not None
    assert (device.device_id, device.batch, device.state) == (known, "b", DeviceState.REGISTERED)
    assert instance.find_device(unknown) is None
    with pytest.raises(ValidationError, match="exactly 64 hexadecimal characters"):
        instance.find_device("1234")


def test_set_device_state_moves_counters(instance: Instance, device_ids: IdMaker) -> None:
    instance.create_batch("a")
    instance.create_batch("b")
    ids = device_ids(6)
    instance.add_devices("a", ids[:4])
    instance.add_devices("b", ids[4:])
    assert instance.set_device_state([ids[0], ids[1], ids[4]], DeviceState.ENROLLED) == 3
    assert instance.set_device_state([ids[0], ids[2]], DeviceState.ENROLLED) == 1  # ids[0] already is
    assert instance.set_device_state([ids[1]], DeviceState.REVOKED) == 1
    a, b = instance.get_batch("a").counts, instance.get_batch("b").counts
    assert (a.registered, a.enrolled, a.revoked, a.total) == (1, 2, 1, 4)
    assert (b.registered, b.enrolled, b.total) == (1, 1, 2)
    totals = instance.dashboard_summary().devices
    assert (totals.registered, totals.enrolled, totals.revoked, totals.total) == (2, 3, 1, 6)
    states = {d.device_id: d.state for d in instance.list_devices("a").items}
    assert states[ids[1]] is DeviceState.REVOKED
    assert states[ids[3]] is DeviceState.REGISTERED


def test_set_state_of_unknown_device_changes_nothing(instance: Instance, device_ids: IdMaker) -> None:
    instance.create_batch("b")
    known, unknown = device_ids(2)
    instance.add_devices("b", [known])
    with pytest.raises(NotFoundError, match=f"device {unknown} is not in this instance"):
        instance.set_device_state([known, unknown], DeviceState.ENROLLED)
    assert instance.get_batch("b").counts.enrolled == 0
    with pytest.raises(ValidationError, match="device #2: a DeviceID"):
        instance.set_device_state([known, "zz"], DeviceState.ENROLLED)
    with pytest.raises(ValidationError, match="device state must be one of registered, enrolled"):
        instance.set_device_state([known], "enrolled")  # type: ignore[arg-type]


def test_move_devices_keeps_state_counters_and_exact_paging(instance: Instance, device_ids: IdMaker) -> None:
    instance.create_batch("factory")
    instance.create_batch("field")
    ids = device_ids(6)
    instance.add_devices("factory", ids)
    instance.set_device_state([ids[2]], DeviceState.ENROLLED)
    assert instance.move_devices("field", [ids[2], ids[4]]) == 2
    assert instance.move_devices("field", [ids[2]]) == 0  # already there
    factory, field = instance.get_batch("factory").counts, instance.get_batch("field").counts
    assert (factory.total, factory.enrolled, field.total, field.enrolled) == (4, 0, 2, 1)
    remaining = [ids[0], ids[1], ids[3], ids[5]]
    assert [d.device_id for d in instance.list_devices("factory").items] == remaining
    # Offsets stay positions after the holes a move leaves: each page starts where the last ended.
    pages = [instance.list_devices("factory", PageRequest(offset=o, limit=1)).items for o in range(4)]
    assert [page[0].device_id for page in pages] == remaining
    moved = {d.device_id: (d.batch, d.state) for d in instance.list_devices("field").items}
    assert moved == {ids[2]: ("field", DeviceState.ENROLLED), ids[4]: ("field", DeviceState.REGISTERED)}
    instance.add_devices("factory", device_ids(1, tag="late"))  # numbered after the renumbered ones
    assert instance.get_batch("factory").counts.total == 5
    assert len(instance.list_devices("factory").items) == 5


def test_move_of_unknown_device_moves_nothing(instance: Instance, device_ids: IdMaker) -> None:
    instance.create_batch("a")
    instance.create_batch("b")
    known, unknown = device_ids(2)
    instance.add_devices("a", [known])
    with pytest.raises(NotFoundError, match=f"device {unknown} is not in this instance; nothing was moved"):
        instance.move_devices("b", [known, unknown])
    assert instance.get_batch("a").counts.total == 1
    with pytest.raises(NotFoundError, match="no batch named 'c'"):
        instance.move_devices("c", [known])


# --- PKI and parameters --------------------------------------------------------------------------


def test_certificates_form_a_chain(instance: Instance) -> None:
    certs = {c.role: c for c in instance.certificates()}
    assert set(certs) == {"root", "issuing", "tls"}
    root, issuing, tls = certs["root"], certs["issuing"], certs["tls"]
    assert root.subject == root.issuer
    assert issuing.issuer == root.subject
    assert tls.issuer == issuing.subject
    now = datetime.now(UTC)
    for info in certs.values():
        assert info.not_before <= now <= info.not_after
        assert info.pem.startswith("-----BEGIN CERTIFICATE-----")
        assert "PRIVATE" not in info.pem
        parsed = x509.load_pem_x509_certificate(info.pem.encode())
        assert format(parsed.serial_number, "x") == info.serial_hex


def test_instance_params_default_and_change(instance: Instance) -> None:
    params = instance.instance_params()
    assert params.port == DEFAULT_IEF_PORT
    assert params.endpoint
    root = next(c for c in instance.certificates() if c.role == "root")
    assert params.root_ca_pem == root.pem
    changed = instance.set_instance_params(" iot.example.com ", 8443)
    assert (changed.endpoint, changed.port) == ("iot.example.com", 8443)
    assert instance.instance_params() == changed
    assert instance.set_instance_params("192.168.1.20", 1).endpoint == "192.168.1.20"


@pytest.mark.parametrize(
    ("endpoint", "port", "message"),
    [
        ("host", 0, "the port must be between 1 and 65535; got 0"),
        ("host", 65536, "the port must be between 1 and 65535; got 65536"),
        ("", 6000, "the instance endpoint cannot be empty"),
        ("bad_host", 6000, "the endpoint 'bad_host' is not a valid hostname"),
        ("-x.example.com", 6000, "part '-x' must be 1-63 letters"),
        ("a" * 254, 6000, "a hostname has at most 253"),
    ],
)
def test_bad_instance_params_are_refused(instance: Instance, endpoint: str, port: int, message: str) -> None:
    before = instance.instance_params()
    with pytest.raises(ValidationError, match=message):
        instance.set_instance_params(endpoint, port)
    assert instance.instance_params() == before


# --- dashboard -----------------------------------------------------------------------------------


def test_dashboard_summary_panels_counts_and_activity(instance: Instance, device_ids: IdMaker) -> None:
    for n in range(12):
        instance.create_batch(f"batch-{n:02d}")
    instance.add_devices("batch-00", device_ids(3))
    instance.add_devices("batch-01", device_ids(2, tag="other"))
    summary = instance.dashboard_summary()
    panels = {h.name: h for h in summary.health}
    assert set(panels) == {"HSM", "Backend", "Database", "IoT Hubs"}
    assert panels["Database"].level is HealthLevel.OK
    assert "no IoT hubs configured" in panels["IoT Hubs"].detail
    assert "private keys" in panels["HSM"].detail
    assert summary.devices.total == 5
    assert summary.devices.registered == 5
    counts = summary.certificates
    # The instance's own certificates, and one not yet used per device registered but never enrolled.
    assert counts.valid + counts.expired + counts.not_used == len(instance.certificates()) + 5
    assert len(summary.last_activity) == 10
    newest = summary.last_activity[0]
    assert (newest.action, newest.target) == ("batch.add-devices", "batch-01")
    ids = [entry.id for entry in summary.last_activity]
    assert ids == sorted(ids, reverse=True)


def test_delete_batch_takes_its_devices_but_is_refused_while_any_is_enrolled(
    instance: Instance, device_ids: IdMaker
) -> None:
    instance.create_batch("old")
    instance.create_batch("keep")
    ids = device_ids(3)
    instance.add_devices("old", ids[:2])
    instance.add_devices("keep", ids[2:])
    instance.set_device_state([ids[0]], DeviceState.ENROLLED)
    with pytest.raises(ConflictError, match="1 of its devices is enrolled and in use in the field"):
        instance.delete_batch("old")
    assert instance.get_batch("old").counts.total == 2, "a refused delete changes nothing"
    instance.set_device_state([ids[0]], DeviceState.REVOKED)
    instance.delete_batch(" old ")
    with pytest.raises(NotFoundError, match="there is no batch named 'old'"):
        instance.get_batch("old")
    assert instance.find_device(ids[0]) is None and instance.find_device(ids[1]) is None
    assert instance.get_batch("keep").counts.total == 1
    assert instance.dashboard_summary().devices.total == 1
    instance.create_batch("old")  # the name is free again
    assert instance.add_devices("old", ids[:2]).added == 2
    with pytest.raises(NotFoundError, match="there is no batch named 'nope'"):
        instance.delete_batch("nope")
    actions = [e.action for e in instance.list_activity().items]
    assert "batch.delete" in actions
