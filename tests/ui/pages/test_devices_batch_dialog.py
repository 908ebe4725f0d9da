"""Create Batch through its widgets: typed IDs, a good file, a bad file, and instance refusals."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.instance.local.instance import LocalInstance
from app.ui.pages.devices_batch_dialog import CreateBatchDialog
from tests.ui.pool_drain import drain_pool


def ids(count: int, salt: str = "") -> list[str]:
    return [hashlib.sha256(f"{salt}{i}".encode()).hexdigest() for i in range(count)]


@pytest.fixture
def dialog(qtbot: QtBot, instance: LocalInstance) -> Iterator[CreateBatchDialog]:
    created = CreateBatchDialog(None, instance)
    qtbot.addWidget(created)
    created.show()
    yield created
    drain_pool()


def load(qtbot: QtBot, dialog: CreateBatchDialog, path: Path) -> None:
    dialog.load_file(path)
    qtbot.waitUntil(lambda: dialog.file_button.isEnabled(), timeout=10_000)


def create(qtbot: QtBot, dialog: CreateBatchDialog, name: str) -> None:
    dialog.name.setText(name)
    with qtbot.waitSignal(dialog.created, timeout=20_000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)


def test_a_good_file_creates_the_batch_with_its_devices(
    qtbot: QtBot, dialog: CreateBatchDialog, instance: LocalInstance, tmp_path: Path
) -> None:
    good = ids(2_500)
    path = tmp_path / "line-3.json"
    path.write_text(json.dumps({"devices": good}, indent=1))
    load(qtbot, dialog, path)
    assert "2,500 DeviceIDs ready" in dialog.file_label.text()
    assert instance.list_batches().total == 0, "nothing may be created before the person confirms"
    create(qtbot, dialog, "line-3")
    batch = instance.get_batch("line-3")
    assert batch.counts.total == 2_500
    listed = instance.list_devices("line-3").items
    assert [d.device_id for d in listed[:3]] == good[:3]
    assert dialog.result() == dialog.DialogCode.Accepted


def test_a_bad_file_lists_its_problems_line_by_line_and_imports_nothing(
    qtbot: QtBot, dialog: CreateBatchDialog, instance: LocalInstance, tmp_path: Path
) -> None:
    good = ids(3)
    path = tmp_path / "bad.json"
    path.write_text(f'{{"devices": [\n  "{good[0]}",\n  "not-an-id",\n  "{good[1][:60]}",\n  42\n]}}\n')
    load(qtbot, dialog, path)
    problems = [dialog.problems.item(r).text() for r in range(dialog.problems.count())]
    assert dialog.problems.isVisible()
    assert "3 problems" in dialog.problems_title.text()
    assert problems[0].startswith("line 3, device #2:"), "the second entry is device #2: people count from 1"
    assert "hexadecimal" in problems[0]
    assert problems[1].startswith("line 4, device #3:") and "this one has 60" in problems[1]
    assert problems[2].startswith("line 5, device #4:") and "found a number" in problems[2]
    assert "rejected" in dialog.file_label.text()
    assert dialog.all_ids() == []


def test_no_batch_is_made_from_the_typed_ids_while_the_rejected_file_is_loaded(
    qtbot: QtBot, dialog: CreateBatchDialog, instance: LocalInstance, tmp_path: Path
) -> None:
    typed = ids(1, "typed")[0]
    dialog.id_input.setText(typed)
    dialog.add_typed_id()
    path = tmp_path / "bad.json"
    path.write_text('{"devices": ["nope"]}')
    load(qtbot, dialog, path)
    dialog.name.setText("half")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    drain_pool()
    assert instance.list_batches().total == 0, "a batch was created although its file was rejected"
    assert "bad.json was rejected" in dialog.problem.text() and "Forget the file" in dialog.problem.text()
    assert dialog.forget_button.isVisible()
    qtbot.mouseClick(dialog.forget_button, Qt.MouseButton.LeftButton)
    assert not dialog.problem.isVisible(), "the problem stays after the person dealt with it"
    create(qtbot, dialog, "half")
    assert [d.device_id for d in instance.list_devices("half").items] == [typed]


def test_every_problem_shows_and_each_goes_when_its_field_is_fixed(
    qtbot: QtBot, dialog: CreateBatchDialog, instance: LocalInstance, tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"devices": ["nope"]}')
    load(qtbot, dialog, path)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    texts = dialog.problem_texts()
    assert texts[0] == "batch name cannot be empty" and texts[1].startswith("bad.json was rejected")
    height = dialog.height()
    qtbot.keyClicks(dialog.name, "line-9")
    assert len(dialog.problem_texts()) == 1 and dialog.problem.text().startswith("bad.json was rejected")
    qtbot.mouseClick(dialog.forget_button, Qt.MouseButton.LeftButton)
    assert not dialog.problem.isVisible()
    assert dialog.height() >= height
    assert instance.list_batches().total == 0


def test_the_policy_is_picked_from_the_instance_with_its_terms(qtbot: QtBot, instance: LocalInstance) -> None:
    instance.create_policy("month", certificate_days=30, auto_renew=False)
    dialog = CreateBatchDialog(None, instance)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.policy.loaded, timeout=10_000)
    labels = [dialog.policy.itemText(i) for i in range(dialog.policy.count())]
    assert labels == ["default  (365 days, auto-renew)", "month  (30 days, no auto-renew)"]
    assert dialog.policy.currentData() == "default"
    dialog.policy.setCurrentIndex(dialog.policy.findData("month"))
    create(qtbot, dialog, "line-30")
    assert instance.get_batch("line-30").policy == "month"
    drain_pool()


def test_a_policy_deleted_meanwhile_is_refused_by_the_instance(qtbot: QtBot, instance: LocalInstance) -> None:
    instance.create_policy("brief")
    dialog = CreateBatchDialog(None, instance)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.policy.loaded, timeout=10_000)
    dialog.policy.setCurrentIndex(dialog.policy.findData("brief"))
    instance.delete_policy("brief")
    dialog.name.setText("b")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=10_000)
    assert "there is no policy named 'brief'; create it first" in dialog.problem.text()
    assert instance.list_batches().total == 0
    drain_pool()


def test_a_file_that_is_not_json_says_where(qtbot: QtBot, dialog: CreateBatchDialog, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"devices": [\n  "abc",\n')
    load(qtbot, dialog, path)
    assert dialog.problems.count() == 1
    assert "not valid JSON" in dialog.problems.item(0).text()
    assert dialog.problems.item(0).text().startswith("line ")


def test_a_missing_file_is_reported_in_the_dialog(
    qtbot: QtBot, dialog: CreateBatchDialog, tmp_path: Path
) -> None:
    load(qtbot, dialog, tmp_path / "absent.json")
    assert "cannot read the file" in dialog.problems.item(0).text()


def test_ids_are_validated_as_they_are_typed(
    qtbot: QtBot, dialog: CreateBatchDialog, instance: LocalInstance
) -> None:
    first, second = ids(2, "typed")
    qtbot.keyClicks(dialog.id_input, first[:10] + "xyz")
    assert not dialog.add_button.isEnabled()
    assert "'x' at position 11 is not one" in dialog.id_problem.text()
    dialog.id_input.clear()
    qtbot.keyClicks(dialog.id_input, first[:40])
    assert "this one has 40" in dialog.id_problem.text()
    dialog.id_input.setText(first.upper())
    assert dialog.add_button.isEnabled()
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    dialog.id_input.setText(first)
    assert dialog.id_problem.text() == "already in the list"
    dialog.id_input.setText(second)
    qtbot.keyClick(dialog.id_input, Qt.Key.Key_Return)
    assert dialog.typed_ids == [first, second]
    assert dialog.isVisible(), "Enter in the ID field adds the ID; it must not create the batch"
    create(qtbot, dialog, "typed")
    assert [d.device_id for d in instance.list_devices("typed").items] == [first, second]


def test_an_empty_name_is_refused_inline(
    qtbot: QtBot, dialog: CreateBatchDialog, instance: LocalInstance
) -> None:
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.problem.text() == "batch name cannot be empty"
    assert dialog.isVisible()
    assert instance.list_batches().total == 0


def test_a_taken_name_shows_the_instance_message_inline(
    qtbot: QtBot, dialog: CreateBatchDialog, instance: LocalInstance
) -> None:
    instance.create_batch("taken")
    dialog.name.setText("taken")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.problem.isVisible(), timeout=10_000)
    assert "already exists" in dialog.problem.text()
    assert dialog.isVisible() and dialog.ok_button.isEnabled()
