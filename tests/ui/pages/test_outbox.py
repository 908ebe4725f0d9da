"""The Outbox page: queued DeviceIDs sent on demand, refused ones decided by a person."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from app.domain.records import PageRequest
from app.instance.local.instance import LocalInstance
from app.provisioning.device_journal import JournalState
from app.provisioning.records import RecordsDB
from app.system.paths import DataDir
from app.ui.main_window import MainWindow
from app.ui.pages.context import PageContext
from app.ui.pages.outbox import OutboxPage
from tests.ui.pool_drain import drain_pool

WAIT = 10_000


def _ids(count: int, tag: str) -> list[str]:
    return [hashlib.sha256(f"{tag}-{i}".encode()).hexdigest() for i in range(count)]


@pytest.fixture
def journal(context: PageContext) -> Iterator[RecordsDB]:
    records = RecordsDB(DataDir(context.data_dir).ensure().records_db)
    yield records
    records.close()


def _queue(records: RecordsDB, device_ids: list[str], batch: str) -> None:
    for device_id in device_ids:
        entry = records.journal.receive(device_id, batch=batch, move=False)
        records.journal.settle(entry.id, JournalState.QUEUED, "the network was down")


@pytest.fixture
def page(qtbot: QtBot, window: MainWindow) -> Iterator[OutboxPage]:
    outbox = window.page("Outbox")
    assert isinstance(outbox, OutboxPage)
    yield outbox
    drain_pool()


def _show(qtbot: QtBot, window: MainWindow, page: OutboxPage) -> None:
    with qtbot.waitSignal(page.attention_model.modelReset, timeout=WAIT):
        window.show_page("Outbox")


def test_send_now_delivers_the_queued_ids(
    qtbot: QtBot, window: MainWindow, page: OutboxPage, journal: RecordsDB, instance: LocalInstance
) -> None:
    instance.create_batch("line")
    _queue(journal, _ids(3, "page"), "line")
    _show(qtbot, window, page)
    assert page.queued_model.rowCount() == 3
    assert "3 waiting to be sent" in page.summary.text()

    with qtbot.waitSignal(page.status, timeout=WAIT) as sent:
        page.send_button.click()
    assert sent.args == ["Outbox: 3 sent, 0 refused, 0 still queued"]
    qtbot.waitUntil(lambda: page.queued_model.rowCount() == 0, timeout=WAIT)
    assert instance.get_batch("line").counts.total == 3
    assert page.summary.text() == "The instance has every DeviceID this station received."


def test_a_refused_id_waits_for_a_decision_and_is_discarded_with_a_reason(
    qtbot: QtBot, window: MainWindow, page: OutboxPage, journal: RecordsDB, instance: LocalInstance
) -> None:
    for name in ("line", "field"):
        instance.create_batch(name)
    first, second = _ids(2, "refused")
    instance.add_devices("field", [first, second])
    _queue(journal, [first, second], "line")
    _show(qtbot, window, page)
    with qtbot.waitSignal(page.status, timeout=WAIT):
        page.send_now()
    qtbot.waitUntil(lambda: page.attention_model.rowCount() == 2, timeout=WAIT)
    assert not page.discard_button.isEnabled()

    page.attention_view.selectRow(0)
    chosen = page.selected_entry()
    assert chosen is not None and "already belongs to batch 'field'" in chosen.reason
    assert page.discard_button.isEnabled()
    dialog = page.open_discard_dialog()
    assert dialog is not None
    dialog.setTextValue("board scrapped at the bench")
    with qtbot.waitSignal(page.status, timeout=WAIT) as said:
        dialog.accept()
    assert "discarded" in said.args[0]
    (logged,) = instance.list_activity(PageRequest(search="push-discarded")).items
    assert logged.target == chosen.device_id and logged.details.endswith("board scrapped at the bench")
    qtbot.waitUntil(lambda: page.attention_model.rowCount() == 1, timeout=WAIT)

    page.attention_view.selectRow(0)
    with qtbot.waitSignal(page.status, timeout=WAIT):
        page.move_button.click()
    qtbot.waitUntil(lambda: page.attention_model.rowCount() == 0, timeout=WAIT)
    qtbot.waitUntil(lambda: journal.journal.count(JournalState.QUEUED) == 0, timeout=WAIT)
    moved = instance.find_device(second if chosen.device_id == first else first)
    assert moved is not None and moved.batch == "line"
