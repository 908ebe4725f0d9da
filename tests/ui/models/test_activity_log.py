"""The paged activity model: pages are fetched as the view reaches the end, never all at once."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from app.instance.local.instance import LocalInstance
from app.ui.models.activity_log import PagedActivityModel
from app.ui.widgets.record_view import RecordView
from tests.ui.instance_probe import CountingInstance


def test_more_is_fetched_only_when_the_view_reaches_the_end(qtbot: QtBot, instance: LocalInstance) -> None:
    for number in range(120):
        instance.create_batch(f"b{number:03d}")
    counting = CountingInstance(instance)
    model = PagedActivityModel(counting, page_size=25)  # type: ignore[arg-type]
    view = RecordView(model, sortable=False)
    qtbot.addWidget(view)
    view.resize(800, 300)
    with qtbot.waitSignal(model.loaded, timeout=10_000):
        model.reload()
    view.show()
    qtbot.waitExposed(view)
    assert model.rowCount() == 25 and model.total == 121
    first = counting.calls["list_activity"]
    assert first <= 2, "the first screen needs at most a page or two"
    while model.rowCount() < 121:
        with qtbot.waitSignal(model.loaded, timeout=10_000):
            view.scrollToBottom()
            model.fetchMore()
    assert model.entry(0).target == "b119"
    assert model.entry(120).action == "instance.create"
    assert counting.calls["list_activity"] == 5
    assert not model.canFetchMore()


def test_search_goes_to_the_instance(qtbot: QtBot, instance: LocalInstance) -> None:
    instance.create_batch("findable")
    instance.create_batch("other")
    model = PagedActivityModel(instance)
    with qtbot.waitSignal(model.loaded, timeout=10_000):
        model.reload("FINDABLE")
    assert model.rowCount() == 1 and model.entry(0).target == "findable"


def test_entries_added_meanwhile_are_not_shown_twice(qtbot: QtBot, instance: LocalInstance) -> None:
    for number in range(10):
        instance.create_batch(f"c{number}")
    model = PagedActivityModel(instance, page_size=4)
    with qtbot.waitSignal(model.loaded, timeout=10_000):
        model.reload()
    instance.create_batch("late-1")
    instance.create_batch("late-2")
    while model.canFetchMore():
        with qtbot.waitSignal(model.loaded, timeout=10_000):
            model.fetchMore()
    ids = [model.entry(r).id for r in range(model.rowCount())]
    assert len(ids) == len(set(ids)) == 11
    assert ids == sorted(ids, reverse=True)
