"""The dashboard page against a real local instance: panels, counts, activity, columns."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pytestqt.qtbot import QtBot

from app.domain.kinds import DeviceState, HealthLevel
from app.instance.local.instance import LocalInstance
from app.ui.pages.context import PageContext
from app.ui.pages.dashboard import DashboardPage
from tests.ui.pool_drain import drain_pool


@pytest.fixture
def page(qtbot: QtBot, context: PageContext) -> Iterator[DashboardPage]:
    dashboard = DashboardPage(context)
    qtbot.addWidget(dashboard)
    with qtbot.waitSignal(dashboard.activity_model.modelReset, timeout=10_000):
        dashboard.show()
    yield dashboard
    drain_pool()


def reload(qtbot: QtBot, page: DashboardPage) -> None:
    with qtbot.waitSignal(page.activity_model.modelReset, timeout=10_000):
        page.refresh_button.click()


def test_health_panels_are_coloured_with_the_reason_in_a_tooltip(page: DashboardPage) -> None:
    assert set(page.health_panels) == {"HSM", "Backend", "Database", "IoT Hubs"}
    hsm = page.health_panels["HSM"]
    assert hsm.level is HealthLevel.OK
    assert hsm.value.text() == "OK"
    assert hsm.value.property("tone") == "ok"
    assert "encrypted at rest" in hsm.toolTip()


def test_device_counts_change_after_devices_are_added(
    qtbot: QtBot, page: DashboardPage, instance: LocalInstance
) -> None:
    assert page.device_panels["Enrolled"].value.text() == "0"
    ids = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(1_500)]
    instance.create_batch("line-1")
    instance.add_devices("line-1", ids)
    instance.set_device_state(ids[:1_200], DeviceState.ENROLLED)
    instance.set_device_state(ids[1_200:1_203], DeviceState.REVOKED)
    instance.set_device_state(ids[1_203:1_210], DeviceState.EXPIRED)
    reload(qtbot, page)
    values = {name: panel.value.text() for name, panel in page.device_panels.items()}
    assert values == {
        "Renewed": "0",
        "Enrolled": "1,200",
        "Revoked": "3",
        "Expired": "7",
        "Registered": "290",
    }
    assert "1,500 devices in all" in page.go_devices.toolTip()


def test_certificate_counts_are_shown(page: DashboardPage, instance: LocalInstance) -> None:
    expected = instance.dashboard_summary().certificates
    assert page.cert_panels["Valid"].value.text() == str(expected.valid)
    assert page.cert_panels["Expired"].value.text() == str(expected.expired)
    assert page.cert_panels["Not used"].value.text() == str(expected.not_used)


def test_last_activity_shows_ten_and_can_be_searched(
    qtbot: QtBot, page: DashboardPage, instance: LocalInstance
) -> None:
    for number in range(12):
        instance.create_batch(f"batch-{number:02d}")
    instance.create_batch("special-needle")
    reload(qtbot, page)
    assert page.activity_model.rowCount() == 10
    qtbot.keyClicks(page.search, "needle")
    assert page.activity_proxy.rowCount() == 1
    row = page.activity_proxy.mapToSource(page.activity_proxy.index(0, 0)).row()
    assert page.activity_model.record(row).target == "special-needle"
    page.search.clear()
    assert page.activity_proxy.rowCount() == 10


def test_columns_can_be_hidden_but_not_all(page: DashboardPage) -> None:
    chooser = page.columns
    details = [a.text() for a in chooser.actions_].index("Details")
    chooser.actions_[details].setChecked(False)
    assert page.activity.isColumnHidden(details)
    for action in chooser.actions_:
        action.setChecked(False)
    shown = [c for c in range(len(chooser.actions_)) if not page.activity.isColumnHidden(c)]
    assert len(shown) == 1


def test_refreshes_on_a_timer_only_while_visible(page: DashboardPage) -> None:
    assert page._timer.isActive()
    assert page._timer.interval() == 10_000
    page.hide()
    assert not page._timer.isActive()


def test_counts_follow_real_enrolment_renewal_revocation_and_expiry(
    qtbot: QtBot, page: DashboardPage, instance: LocalInstance
) -> None:
    ids = [hashlib.sha256(f"life-{i}".encode()).hexdigest() for i in range(6)]
    instance.create_batch("lifecycle")
    instance.add_devices("lifecycle", ids)
    reload(qtbot, page)
    before = {name: int(panel.value.text()) for name, panel in page.cert_panels.items()}
    now = datetime.now(UTC)
    desk = instance.device_enrolment(lambda: now)
    long_ago = instance.device_enrolment(lambda: now - timedelta(days=400))  # ran out 35 days ago
    for device in ids[:4]:
        desk.enrol(device, ec.generate_private_key(ec.SECP256R1()).public_key())
    long_ago.enrol(ids[4], ec.generate_private_key(ec.SECP256R1()).public_key())
    instance.renew_device(ids[1])
    instance.set_device_state([ids[2]], DeviceState.REVOKED)
    reload(qtbot, page)
    devices = {name: panel.value.text() for name, panel in page.device_panels.items()}
    assert devices == {"Renewed": "1", "Enrolled": "2", "Revoked": "1", "Expired": "1", "Registered": "1"}
    after = {name: int(panel.value.text()) for name, panel in page.cert_panels.items()}
    assert after["Valid"] - before["Valid"] == 3 + 1  # enrolled, renewed and the issuing CA now in use
    assert after["Expired"] - before["Expired"] == 1
    assert before["Not used"] - after["Not used"] == 5 + 1  # five devices enrolled; the issuing CA is used
    assert "registered but not yet enrolled" in page.cert_panels["Not used"].toolTip()
