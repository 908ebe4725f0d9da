"""The Devices page: batches with their counts, a batch's devices, and creating a batch from the page."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.domain.kinds import DeviceState
from app.instance.local.instance import LocalInstance
from app.ui.models.formatting import plural
from app.ui.pages.context import PageContext
from app.ui.pages.devices import DevicesPage
from tests.ui.pool_drain import drain_pool


def ids(count: int, salt: str) -> list[str]:
    return [hashlib.sha256(f"{salt}{i}".encode()).hexdigest() for i in range(count)]


@pytest.fixture
def filled(instance: LocalInstance) -> dict[str, list[str]]:
    batches = {"alpha": ids(40, "a"), "beta": ids(700, "b")}
    for name, devices in batches.items():
        instance.create_batch(name, policy="factory")
        instance.add_devices(name, devices)
    instance.set_device_state(batches["beta"][:500], DeviceState.ENROLLED)
    instance.set_device_state(batches["beta"][500:510], DeviceState.REVOKED)
    return batches


@pytest.fixture
def page(qtbot: QtBot, context: PageContext, filled: dict[str, list[str]]) -> Iterator[DevicesPage]:
    devices = DevicesPage(context)
    qtbot.addWidget(devices)
    devices.resize(1000, 700)
    with qtbot.waitSignal(devices.batch_model.modelReset, timeout=10_000):
        devices.show()
    yield devices
    drain_pool()


def row_texts(page: DevicesPage, row: int) -> list[str]:
    proxy = page.batch_proxy
    return [proxy.index(row, c).data() for c in range(proxy.columnCount())]


def test_batches_are_listed_with_their_counts(page: DevicesPage) -> None:
    assert page.batch_proxy.rowCount() == 2
    assert row_texts(page, 0)[:6] == ["alpha", "40", "0", "0", "0", "factory"]
    assert row_texts(page, 1)[:6] == ["beta", "700", "500", "0", "10", "factory"]
    assert page.batch_count.text() == "2 batches"


def test_sorting_by_devices_is_numeric(page: DevicesPage) -> None:
    page.batches.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    assert row_texts(page, 0)[0] == "beta"


def test_selecting_a_batch_shows_its_devices(
    qtbot: QtBot, page: DevicesPage, filled: dict[str, list[str]]
) -> None:
    with qtbot.waitSignal(page.device_model.page_loaded, timeout=10_000):
        page.select_batch("beta")
    assert page.devices_title.text() == "Devices in beta"
    assert page.device_count.text() == "700 devices"
    model = page.device_model
    assert model.data(model.index(0, 1)) == filled["beta"][0]
    assert model.data(model.index(0, 2)) == "enrolled"
    page.devices.scrollTo(model.index(505, 0))
    qtbot.waitUntil(lambda: model.data(model.index(505, 2)) == "revoked", timeout=10_000)


def test_device_search_is_a_prefix_the_instance_answers(
    qtbot: QtBot, page: DevicesPage, filled: dict[str, list[str]]
) -> None:
    with qtbot.waitSignal(page.device_model.page_loaded, timeout=10_000):
        page.select_batch("beta")
    prefix = filled["beta"][123][:4]
    expected = [i for i in filled["beta"] if i.startswith(prefix)]
    with qtbot.waitSignal(page.device_model.page_loaded, timeout=10_000):
        qtbot.keyClicks(page.device_search, prefix)
    assert page.device_model.rowCount() == len(expected)
    assert page.device_count.text() == f"{plural(len(expected), 'device')} starting with {prefix}"


def test_a_batch_created_from_the_page_is_selected(
    qtbot: QtBot, page: DevicesPage, instance: LocalInstance, tmp_path: Path
) -> None:
    path = tmp_path / "gamma.json"
    path.write_text(json.dumps({"devices": ids(25, "g")}))
    dialog = page.open_create_dialog()
    dialog.load_file(path)
    qtbot.waitUntil(lambda: dialog.file is not None, timeout=10_000)
    dialog.name.setText("gamma")
    with qtbot.waitSignal(page.status, timeout=10_000) as status:
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert status.args == ["Batch 'gamma' created with 25 devices"]
    qtbot.waitUntil(lambda: page.selected_batch() == "gamma", timeout=10_000)
    qtbot.waitUntil(lambda: page.device_count.text() == "25 devices", timeout=10_000)
    assert instance.get_batch("gamma").counts.total == 25
