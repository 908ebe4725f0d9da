"""The outbox: queued pushes delivered in groups and exactly once; refused ones wait for a person."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain.errors import ConflictError, ValidationError
from app.domain.records import PageRequest
from app.instance.local.instance import LocalInstance
from app.provisioning.device_journal import AttentionAction, JournalState
from app.provisioning.device_push import flush_outbox
from app.provisioning.records import RecordsDB

from .network import NetworkDown


def ids(count: int, tag: str = "queued") -> list[str]:
    return [hashlib.sha256(f"{tag}-{i}".encode()).hexdigest() for i in range(count)]


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalInstance]:
    instance = LocalInstance.open(tmp_path / "local.sqlite3")
    for name in ("line", "spares", "field"):
        instance.create_batch(name)
    yield instance
    instance.close()


@pytest.fixture
def records(tmp_path: Path) -> Iterator[RecordsDB]:
    db = RecordsDB(tmp_path / "records.sqlite3")
    yield db
    db.close()


def queue(records: RecordsDB, device_ids: list[str], batch: str, move: bool = False) -> None:
    for device_id in device_ids:
        entry = records.journal.receive(device_id, batch=batch, move=move)
        records.journal.settle(entry.id, JournalState.QUEUED, "network down")


class CountingInstance:
    """The real local instance, with the number of add_devices calls it answered counted."""

    def __init__(self, inner: LocalInstance) -> None:
        self.inner = inner
        self.adds = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def add_devices(self, batch: str, device_ids: list[str]) -> object:
        self.adds += 1
        return self.inner.add_devices(batch, device_ids)


def test_queued_pushes_go_in_groups_and_keep_their_order(local: LocalInstance, records: RecordsDB) -> None:
    queue(records, ids(2500), "line")
    queue(records, ids(3, "spare"), "spares")
    counting = CountingInstance(local)
    report = flush_outbox(counting, records.journal)  # type: ignore[arg-type]
    assert (report.pushed, report.refused, report.still_queued) == (2503, 0, 0)
    assert counting.adds == 4  # 1000 + 1000 + 500 for "line", then 3 for "spares"
    listed = local.list_devices("line", PageRequest(limit=3000)).items
    assert [d.device_id for d in listed] == ids(2500)
    assert records.journal.count(JournalState.PUSHED) == 2503


def test_a_group_with_one_id_elsewhere_is_answered_entry_by_entry(
    local: LocalInstance, records: RecordsDB
) -> None:
    elsewhere = ids(5)[2]
    local.add_devices("field", [elsewhere])
    queue(records, ids(5), "line")
    report = flush_outbox(local, records.journal)
    assert (report.pushed, report.refused) == (4, 1)
    (refused,) = records.journal.needs_attention()
    assert refused.device_id == elsewhere
    assert "already belongs to batch 'field'" in refused.reason


def test_an_outage_mid_flush_leaves_the_rest_queued_and_nothing_twice(
    local: LocalInstance, records: RecordsDB
) -> None:
    queue(records, ids(30), "line")
    down = NetworkDown(local, fail_after=1)
    report = flush_outbox(down, records.journal, group_size=10)  # type: ignore[arg-type]
    assert report.unreachable
    assert (report.pushed, report.still_queued) == (10, 20)
    report = flush_outbox(local, records.journal, group_size=10)
    assert (report.pushed, report.still_queued) == (20, 0)
    assert local.get_batch("line").counts.total == 30


def test_a_person_moves_a_refused_id_into_its_batch(local: LocalInstance, records: RecordsDB) -> None:
    (device,) = ids(1, "mixed-up")
    local.add_devices("field", [device])
    queue(records, [device], "line")
    flush_outbox(local, records.journal)
    (refused,) = records.journal.needs_attention()

    successor = records.journal.act(refused.id, AttentionAction.MOVE, operator="alice")
    assert successor is not None and successor.move and successor.batch == "line"
    assert records.journal.needs_attention() == []
    report = flush_outbox(local, records.journal)
    assert report.pushed == 1
    found = local.find_device(device)
    assert found is not None and found.batch == "line"
    with pytest.raises(ConflictError, match="does not need attention: it is already moved"):
        records.journal.act(refused.id, AttentionAction.DISCARD, reason="again")


def test_a_person_sends_a_refused_id_to_another_batch_or_discards_it(
    local: LocalInstance, records: RecordsDB
) -> None:
    first, second = ids(2, "refused")
    local.add_devices("field", [first, second])
    queue(records, [first, second], "line")
    flush_outbox(local, records.journal)
    one, two = records.journal.needs_attention()

    records.journal.act(one.id, AttentionAction.REBATCH, batch="spares")
    with pytest.raises(ValidationError, match="say why"):
        records.journal.act(two.id, AttentionAction.DISCARD, reason="  ")
    assert records.journal.act(two.id, AttentionAction.DISCARD, reason="board scrapped") is None
    flush_outbox(local, records.journal)
    assert local.find_device(first).batch == "spares"  # type: ignore[union-attr]
    assert local.find_device(second).batch == "field"  # type: ignore[union-attr]
    assert records.journal.needs_attention() == []
    assert records.journal.count(JournalState.QUEUED) == 0
