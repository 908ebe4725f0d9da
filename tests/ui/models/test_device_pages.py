"""The virtual device table: a large batch, and proof that only the pages in sight are requested."""

from __future__ import annotations

import hashlib

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.domain.errors import NotFoundError
from app.domain.kinds import DeviceState
from app.instance.local.instance import LocalInstance
from app.ui.models.device_pages import PLACEHOLDER, PagedDeviceModel
from app.ui.widgets.record_view import RecordView
from tests.ui.instance_probe import CountingInstance

BIG = 200_000


def device_ids(count: int, salt: str = "") -> list[str]:
    return [hashlib.sha256(f"{salt}{i}".encode()).hexdigest() for i in range(count)]


@pytest.fixture
def big_batch(instance: LocalInstance) -> list[str]:
    ids = device_ids(BIG)
    instance.create_batch("big")
    assert instance.add_devices("big", ids).added == BIG
    return ids


def visible_text(model: PagedDeviceModel, row: int) -> str:
    return str(model.data(model.index(row, 1), Qt.ItemDataRole.DisplayRole))


def test_scrolling_to_the_end_fetches_only_the_pages_in_sight(
    qtbot: QtBot, instance: LocalInstance, big_batch: list[str]
) -> None:
    counting = CountingInstance(instance)
    model = PagedDeviceModel(counting, page_size=200)  # type: ignore[arg-type]
    view = RecordView(model, sortable=False)
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    with qtbot.waitSignal(model.page_loaded, timeout=10_000):
        model.set_batch("big")
    assert model.rowCount() == BIG
    qtbot.waitUntil(lambda: visible_text(model, 0) == big_batch[0], timeout=10_000)

    view.scrollToBottom()
    qtbot.waitUntil(lambda: visible_text(model, BIG - 1) == big_batch[-1], timeout=10_000)
    qtbot.waitUntil(lambda: counting.calls["list_devices"] == len(set(model.cached_pages())), timeout=5_000)
    offsets = sorted({page.offset for name, page in counting.pages if name == "list_devices"})
    # the first page, then the last page or two that the bottom of the view shows: never the 996 between
    assert offsets[0] == 0
    assert offsets[-1] == BIG - 200
    assert len(offsets) <= 3, offsets
    assert counting.calls["list_devices"] == len(offsets)
    # each page's certificates in one call with it, never a call per device
    assert counting.calls["device_certificates"] == counting.calls["list_devices"]

    middle = BIG // 2 + 17
    view.scrollTo(model.index(middle, 0))
    qtbot.waitUntil(lambda: visible_text(model, middle) == big_batch[middle], timeout=10_000)
    assert counting.calls["list_devices"] <= 6


def test_rows_show_a_placeholder_until_their_page_arrives(
    qtbot: QtBot, instance: LocalInstance, big_batch: list[str]
) -> None:
    model = PagedDeviceModel(instance, page_size=500)
    with qtbot.waitSignal(model.page_loaded, timeout=10_000):
        model.set_batch("big")
    row = 123_456
    assert visible_text(model, row) == PLACEHOLDER
    with qtbot.waitSignal(model.page_loaded, timeout=10_000) as loaded:
        pass
    assert loaded.args == [row - row % 500]
    assert visible_text(model, row) == big_batch[row]
    assert model.device(row) is not None


def test_cache_stays_bounded(qtbot: QtBot, instance: LocalInstance) -> None:
    ids = device_ids(5_000, "bounded")
    instance.create_batch("medium")
    instance.add_devices("medium", ids)
    model = PagedDeviceModel(instance, page_size=100, cache_pages=4, max_in_flight=1, max_queued=50)
    with qtbot.waitSignal(model.page_loaded, timeout=10_000):
        model.set_batch("medium")
    for row in range(0, 5_000, 100):
        visible_text(model, row)
    qtbot.waitUntil(lambda: visible_text(model, 4_900) == ids[4_900], timeout=10_000)
    assert len(model.cached_pages()) <= 4


def test_states_are_shown_and_a_prefix_search_goes_to_the_instance(
    qtbot: QtBot, instance: LocalInstance
) -> None:
    ids = device_ids(300, "search")
    instance.create_batch("states")
    instance.add_devices("states", ids)
    instance.set_device_state(ids[:2], DeviceState.REVOKED)
    model = PagedDeviceModel(instance)
    with qtbot.waitSignal(model.page_loaded, timeout=10_000):
        model.set_batch("states")
    assert model.data(model.index(0, 2)) == "revoked"
    assert model.data(model.index(2, 2)) == "registered"
    prefix = ids[7][:5]
    expected = [i for i in ids if i.startswith(prefix)]
    with qtbot.waitSignal(model.page_loaded, timeout=10_000):
        model.set_batch("states", search=prefix)
    assert model.rowCount() == len(expected)
    assert [visible_text(model, r) for r in range(model.rowCount())] == expected


def test_an_unknown_batch_reports_one_error(qtbot: QtBot, instance: LocalInstance) -> None:
    model = PagedDeviceModel(instance)
    with qtbot.waitSignal(model.error, timeout=10_000) as failed:
        model.set_batch("no-such-batch")
    [failure] = failed.args
    assert isinstance(failure.error, NotFoundError) and "no-such-batch" in failure.message
    assert model.rowCount() == 0
