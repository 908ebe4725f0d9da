"""The window on a remote instance whose network goes away: pages keep their data and say how old it is."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.instance.api import Instance
from app.instance.mirror.instance import MirrorInstance
from app.instance.mirror.store import MirrorStore
from app.instance.remote.connection import Connection
from app.instance.remote.instance import RemoteInstance
from app.provisioning.device_journal import JournalState
from app.provisioning.records import RecordsDB
from app.system.paths import DataDir
from app.ui.main_window import MainWindow
from app.ui.pages.context import PageContext
from app.ui.pages.devices import DevicesPage
from app.ui.widgets.offline_banner import banner_text
from app.workers.connection_watch import ConnectionState
from tests.support.served import ServedInstanceForTests
from tests.support.tcp_proxy import TcpProxy
from tests.ui.pool_drain import drain_pool

WAIT = 15_000


@pytest.fixture
def served(tmp_path: Path, qapp: object) -> Iterator[ServedInstanceForTests]:
    instance = ServedInstanceForTests(tmp_path / "served")
    yield instance
    drain_pool()
    instance.close()


@pytest.fixture
def proxy(served: ServedInstanceForTests) -> Iterator[TcpProxy]:
    link = TcpProxy(int(served.url.rsplit(":", 1)[1]))
    yield link
    link.close()


@pytest.fixture
def mirror(served: ServedInstanceForTests, proxy: TcpProxy, tmp_path: Path) -> Iterator[MirrorInstance]:
    token = served.served.issue_token(None)
    remote = RemoteInstance(
        Connection(proxy.url, served.ca_file, token=token, connect_timeout_s=2, read_timeout_s=2)
    )
    instance = MirrorInstance(
        remote, MirrorStore(tmp_path / "mirror.sqlite3", served.url), retry_s=0.1, max_retry_s=0.1
    )
    instance.create_batch("line-1")
    instance.create_batch("line-2")
    instance.add_devices("line-1", [hashlib.sha256(f"d{i}".encode()).hexdigest() for i in range(5)])
    instance.refresh()
    yield instance
    drain_pool()
    instance.close()


@pytest.fixture
def offline_window(
    qtbot: QtBot, mirror: MirrorInstance, make_context: Callable[[Instance], PageContext]
) -> Iterator[MainWindow]:
    window = MainWindow(make_context(mirror))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.connection_watch.stop()
    for page in window.pages:
        page.shutdown()
    drain_pool()


def test_the_banner_says_offline_how_old_and_what_waits(
    qtbot: QtBot, offline_window: MainWindow, proxy: TcpProxy, tmp_path: Path
) -> None:
    window = offline_window
    qtbot.waitUntil(lambda: window.connection_watch.state.online, timeout=WAIT)
    assert not window.offline_banner.isVisible()

    with RecordsDB(DataDir(tmp_path / "station-data").ensure().records_db) as records:
        for i in range(3):
            entry = records.journal.receive(
                hashlib.sha256(f"q{i}".encode()).hexdigest(), batch="line-1", move=False
            )
            records.journal.settle(entry.id, JournalState.QUEUED, "network down")
    proxy.set_mode("refuse")
    with qtbot.waitSignal(window.connection_watch.changed, timeout=WAIT):
        window.connection_watch.check()
    text = window.offline_banner.label.text()
    assert text.startswith("Offline — data from ")
    assert "3 DeviceIDs waiting to be sent" in text
    assert window.offline_banner.isVisible() and window.offline_banner.outbox_button.isVisible()
    assert window.outbox_label.text() == "Outbox: 3"
    assert window.connection_label.text().startswith("Offline: ")

    devices = window.page("Devices")
    assert isinstance(devices, DevicesPage)
    window.show_page("Devices")
    qtbot.waitUntil(lambda: devices.batch_model.rowCount() == 2, timeout=WAIT)

    proxy.set_mode("pass")
    with qtbot.waitSignal(window.connection_watch.changed, timeout=WAIT):
        window.connection_watch.check()
    assert window.connection_watch.state.online
    assert window.offline_banner.label.text() == "3 DeviceIDs waiting to be sent"


def test_banner_text_covers_each_case() -> None:
    assert banner_text(ConnectionState(online=True)) == ""
    assert banner_text(ConnectionState(online=True, needs_attention=1)) == (
        "1 DeviceID refused, waiting for your decision"
    )
    offline = banner_text(ConnectionState(online=False, queued=2))
    assert offline == (
        "Offline — no data kept yet, 2 DeviceIDs waiting to be sent. Provisioning goes on; "
        "DeviceIDs are sent when the instance is back."
    )
    yesterday = datetime.now(UTC) - timedelta(days=1)
    dated = banner_text(ConnectionState(online=False, data_from=yesterday))
    assert yesterday.astimezone().strftime("%Y-%m-%d %H:%M") in dated
    now = datetime.now(UTC)
    assert f"data from {now.astimezone().strftime('%H:%M')}," in banner_text(
        ConnectionState(online=False, data_from=now, queued=1)
    )
