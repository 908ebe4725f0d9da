"""The Devices page: batches with their counts, a batch's devices with their certificates, creating a batch
from the page, and renewing or revoking a device."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.domain.kinds import DeviceState
from app.instance.local.instance import LocalInstance
from app.ui.models.formatting import day, plural, when
from app.ui.pages.context import PageContext
from app.ui.pages.devices import DevicesPage
from tests.ui.pool_drain import drain_pool


def ids(count: int, salt: str) -> list[str]:
    return [hashlib.sha256(f"{salt}{i}".encode()).hexdigest() for i in range(count)]


@pytest.fixture
def filled(instance: LocalInstance) -> dict[str, list[str]]:
    batches = {"alpha": ids(40, "a"), "beta": ids(700, "b")}
    instance.create_policy("factory")
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


def test_add_devices_to_the_selected_batch_typed_and_from_a_file(
    qtbot: QtBot, page: DevicesPage, instance: LocalInstance, tmp_path: Path
) -> None:
    assert not page.add_button.isEnabled(), "nothing to add to before a batch is chosen"
    assert page.select_batch("alpha")
    dialog = page.open_add_dialog()
    assert dialog is not None and dialog.windowTitle() == "Add devices to alpha"
    assert not dialog.name.isVisible() and not dialog.policy.isVisible()
    typed, *from_file = ids(3, "more")
    dialog.id_input.setText(typed)
    dialog.add_typed_id()
    path = tmp_path / "more.json"
    path.write_text(json.dumps({"devices": from_file}))
    dialog.load_file(path)
    qtbot.waitUntil(lambda: dialog.file is not None, timeout=10_000)
    assert "alpha will get 3 devices" in dialog.summary.text()
    with qtbot.waitSignal(page.batch_model.modelReset, timeout=10_000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert instance.get_batch("alpha").counts.total == 43
    assert instance.list_batches().total == 2, "adding must not create a batch"
    assert row_texts(page, 0)[:2] == ["alpha", "43"]


def test_give_the_selected_batch_another_policy(
    qtbot: QtBot, page: DevicesPage, instance: LocalInstance
) -> None:
    instance.create_policy("month", certificate_days=30, auto_renew=False)
    assert not page.policy_button.isEnabled(), "no batch chosen yet"
    assert page.select_batch("beta")
    dialog = page.open_policy_dialog()
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.policy.loaded, timeout=10_000)
    assert dialog.policy.currentData() == "factory", "the batch's own policy is chosen first"
    labels = [dialog.policy.itemText(i) for i in range(dialog.policy.count())]
    assert labels == [
        "default  (365 days, auto-renew)",
        "factory  (365 days, auto-renew)",
        "month  (30 days, no auto-renew)",
    ]
    dialog.policy.setCurrentIndex(dialog.policy.findData("month"))
    with qtbot.waitSignal(page.status, timeout=10_000) as said:
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert said.args == ["Batch 'beta' now has the policy 'month'"]
    assert instance.get_batch("beta").policy == "month"
    qtbot.waitUntil(lambda: row_texts(page, 1)[5] == "month", timeout=10_000)
    assert page.selected_batch() == "beta"


def test_export_the_selected_batch_as_a_batch_file_and_as_csv(
    qtbot: QtBot, page: DevicesPage, filled: dict[str, list[str]], tmp_path: Path
) -> None:
    assert page.select_batch("alpha")
    target = tmp_path / "alpha.json"
    with qtbot.waitSignal(page.status, timeout=10_000) as said:
        page.export_to("alpha", target)
    assert said.args[0] == f"Wrote 40 DeviceIDs of 'alpha' to {target} (JSON)"
    assert json.loads(target.read_text()) == {"devices": filled["alpha"]}
    table = tmp_path / "beta.csv"
    with qtbot.waitSignal(page.status, timeout=10_000):
        page.export_to("beta", table)
    lines = table.read_text().splitlines()
    assert len(lines) == 701 and lines[1].split(",")[:2] == [filled["beta"][0], "enrolled"]


def test_delete_asks_and_is_refused_with_the_reason_while_devices_are_enrolled(
    qtbot: QtBot, page: DevicesPage, instance: LocalInstance
) -> None:
    assert page.select_batch("beta")
    box = page.confirm_delete()
    assert box is not None and "500 devices of it are enrolled" in box.text()
    with qtbot.waitSignal(page.error, timeout=10_000) as refused:
        box.button(box.StandardButton.Yes).click()
    assert "cannot be deleted: 500 of its devices are enrolled" in refused.args[0].message
    assert instance.get_batch("beta").counts.total == 700

    assert page.select_batch("alpha")
    box = page.confirm_delete()
    assert box is not None and "Delete the batch 'alpha' and its 40 devices?" in box.text()
    box.button(box.StandardButton.Cancel).click()
    drain_pool()
    assert instance.get_batch("alpha").counts.total == 40, "Cancel deleted the batch"
    box = page.confirm_delete()
    assert box is not None
    with qtbot.waitSignal(page.batch_model.modelReset, timeout=10_000):
        box.button(box.StandardButton.Yes).click()
    assert [b.name for b in instance.list_batches().items] == ["beta"]
    assert page.batch_count.text() == "1 batch"


@pytest.fixture
def fleet(instance: LocalInstance, filled: dict[str, list[str]]) -> list[str]:
    """A batch whose first two devices really enrolled (the enrolment service's own desk), the third not."""
    devices = ids(3, "fleet")
    instance.create_batch("fleet")
    instance.add_devices("fleet", devices)
    desk = instance.device_enrolment()
    for device in devices[:2]:
        desk.enrol(device, ec.generate_private_key(ec.SECP256R1()).public_key())
    desk.report_status(devices[0], "2.1.0")
    return devices


def device_texts(page: DevicesPage, row: int) -> list[str]:
    model = page.device_model
    return [model.data(model.index(row, column)) for column in range(model.columnCount())]


def show_fleet(qtbot: QtBot, page: DevicesPage) -> None:
    with qtbot.waitSignal(page.device_model.page_loaded, timeout=10_000):
        assert page.select_batch("fleet")


def test_devices_show_state_certificate_firmware_and_last_seen(
    qtbot: QtBot, fleet: list[str], page: DevicesPage, instance: LocalInstance
) -> None:
    show_fleet(qtbot, page)
    headers = [page.device_model.headerData(c, Qt.Orientation.Horizontal) for c in range(8)]
    assert headers[2:7] == ["State", "Certificate serial", "Valid until", "Firmware", "Last seen"]
    shown = instance.device_certificate(fleet[0])
    assert shown is not None
    first = device_texts(page, 0)
    assert first[1:6] == [fleet[0], "enrolled", shown.serial_hex, day(shown.not_after), "2.1.0"]
    assert first[6] == when(shown.enrolled_at)
    assert device_texts(page, 1)[5] == "not reported"
    assert device_texts(page, 2)[2:7] == ["registered", "—", "—", "—", "—"]


def test_renew_the_selected_device_updates_its_row(
    qtbot: QtBot, fleet: list[str], page: DevicesPage, instance: LocalInstance
) -> None:
    show_fleet(qtbot, page)
    page.select_device(2)
    assert not page.renew_button.isEnabled(), "a device that never enrolled has nothing to renew"
    assert page.revoke_button.isEnabled()
    page.select_device(1)
    assert page.renew_button.isEnabled()
    before = device_texts(page, 1)[3]
    with qtbot.waitSignal(page.status, timeout=10_000) as said:
        qtbot.mouseClick(page.renew_button, Qt.MouseButton.LeftButton)
    assert said.args[0].startswith(f"Device {fleet[1][:12]}… renewed: certificate ")
    after = device_texts(page, 1)
    assert after[2] == "renewed" and after[3] != before
    stored = instance.device_certificate(fleet[1])
    assert stored is not None and after[3] == stored.serial_hex
    qtbot.waitUntil(
        lambda: page.batch_model.rowCount() == 3 and instance.get_batch("fleet").counts.renewed == 1
    )


def test_revoke_asks_first_and_cancel_changes_nothing(
    qtbot: QtBot, fleet: list[str], page: DevicesPage, instance: LocalInstance
) -> None:
    show_fleet(qtbot, page)
    page.select_device(0)
    box = page.confirm_revoke()
    assert box is not None and fleet[0] in box.text() and "refuse its enrolments" in box.text()
    assert box.defaultButton() is box.button(box.StandardButton.Cancel)
    box.button(box.StandardButton.Cancel).click()
    drain_pool()
    assert _state(instance, fleet[0]) is DeviceState.ENROLLED

    box = page.confirm_revoke()
    assert box is not None
    revoke = next(b for b in box.buttons() if b.text() == "Revoke")
    with qtbot.waitSignal(page.status, timeout=10_000) as said:
        revoke.click()
    assert said.args[0] == f"Device {fleet[0][:12]}… revoked: it can no longer enrol"
    assert device_texts(page, 0)[2] == "revoked"
    assert _state(instance, fleet[0]) is DeviceState.REVOKED
    assert not page.renew_button.isEnabled() and not page.revoke_button.isEnabled()


def test_a_refused_renewal_reaches_the_error_banner_with_its_reason(
    qtbot: QtBot, fleet: list[str], page: DevicesPage, instance: LocalInstance
) -> None:
    show_fleet(qtbot, page)
    page.select_device(1)
    instance.set_device_state([fleet[1]], DeviceState.REVOKED)  # elsewhere, after the page loaded
    with qtbot.waitSignal(page.error, timeout=10_000) as refused:
        qtbot.mouseClick(page.renew_button, Qt.MouseButton.LeftButton)
    assert "is revoked, so its certificate is not renewed" in refused.args[0].message
    qtbot.waitUntil(page.renew_button.isEnabled, timeout=10_000)  # the buttons come back after a failure


def _state(instance: LocalInstance, device_id: str) -> DeviceState:
    device = instance.find_device(device_id)
    assert device is not None
    return device.state
