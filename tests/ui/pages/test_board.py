"""The Board page through its real widgets, against virtual boards provisioned by the real engine.

Real parts: a local instance, the supervisor and port workers for provisioning, esptool and espefuse on
the bench, virtual boards on loopback registered in the page's data folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.domain.chips import ChipType
from app.instance.local.instance import LocalInstance
from app.provisioning.events import Event, Outcome
from app.provisioning.job_builder import provisioning_job
from app.provisioning.records import RecordsDB
from app.provisioning.supervisor import PortSummary, Supervisor
from app.sim import partition_table as pt
from app.sim.efuses import EfuseState, decode_virtual
from app.sim.fleet import SimFleet
from app.system.paths import DataDir
from app.ui.pages.board import BoardPage
from app.ui.pages.board_dialogs import ConfirmBoardDialog, ReadFlashDialog, ReprovisionDialog
from app.ui.pages.context import PageContext
from app.ui.pages.registry import PAGES
from tests.ui.pool_drain import drain_pool
from tests.ui.station_support import BATCH, RELEASE_TASK, TASK, WAIT_MS, FleetFactory


class _Quiet:
    def on_event(self, event: Event) -> None:
        pass

    def on_finished(self, summary: PortSummary) -> None:
        pass


def provision(instance: LocalInstance, data_dir: Path, fleet: SimFleet, task: str) -> None:
    ap = fleet.access_point
    confirm = BATCH if task == RELEASE_TASK else None
    job = provisioning_job(
        instance, task=task, batch=BATCH, ssid=ap.ssid, password=ap.password, confirm_release=confirm
    )
    with RecordsDB(DataDir(data_dir).ensure().records_db) as records:
        supervisor = Supervisor(instance, records, _Quiet(), data_dir=data_dir)
        try:
            supervisor.start_all([job.for_port(fleet.urls[0])])
            supervisor.wait()
        finally:
            supervisor.close()
        (summary,) = supervisor.summaries()
    assert summary.outcome is Outcome.PASS, summary.message


@pytest.fixture
def board_page(qtbot: QtBot, ready: LocalInstance, context: PageContext) -> Iterator[BoardPage]:
    page = BoardPage(context)
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()
    yield page
    page.shutdown()
    drain_pool()


def identify(qtbot: QtBot, page: BoardPage, url: str) -> None:
    qtbot.waitUntil(lambda: page.port_box.findData(url) >= 0, timeout=WAIT_MS)
    page.select_port(url)
    previous = page.look
    page.identify()
    qtbot.waitUntil(lambda: not page.busy and page.look is not previous, timeout=WAIT_MS)
    assert page.look is not None and page.look.facts.port == url


def test_the_page_is_registered() -> None:
    assert BoardPage in PAGES


def test_dev_board_identify_efuses_reset_and_console(
    qtbot: QtBot, board_page: BoardPage, ready: LocalInstance, context: PageContext, make_fleet: FleetFactory,
    tmp_path: Path,
) -> None:  # fmt: skip
    fleet = make_fleet(1, prefix="dev")
    board, url = fleet.boards[0], fleet.urls[0]
    provision(ready, context.data_dir, fleet, TASK)
    board_page.refresh()
    identify(qtbot, board_page, url)
    page = board_page
    assert page.build_badge.text().startswith("Dev build")
    shown = {
        page.fields.itemAt(i, page.fields.ItemRole.LabelRole).widget().text()
        for i in range(page.fields.rowCount())
    }  # type: ignore[union-attr]
    assert {"chip", "MAC", "crystal", "flash", "secure boot", "build", "virtual eFuses"} <= shown
    differing = {row.name for row in page.efuse_table.model_.differing}
    assert {"SECURE_BOOT_EN", "KEY_PURPOSE_0", "BLOCK_KEY0"} <= differing
    assert not page.efuse_table.isColumnHidden(4)
    page.efuse_table.differences_only.setChecked(True)
    assert page.efuse_table.proxy.rowCount() == len(differing)
    assert [r.task for r in page.history_model.records()] == [TASK]
    assert page.buttons["reset"].isEnabled() and page.buttons["erase"].isEnabled()

    # read flash to a file
    page.buttons["read"].click()
    reader = page.dialog
    assert isinstance(reader, ReadFlashDialog)
    reader.offset_edit.setText("0x8000")
    reader.size_edit.setText("4K")
    reader.file.setText(str(tmp_path / "table.bin"))
    reader.ok_button.click()
    qtbot.waitUntil(lambda: page.dialog is None, timeout=WAIT_MS)
    assert (tmp_path / "table.bin").read_bytes() == board.state.flash.read(0x8000, 4096)

    # reset virtual eFuses: the typed MAC must be this board's
    page.buttons["reset"].click()
    confirm = page.dialog
    assert isinstance(confirm, ConfirmBoardDialog)
    confirm.typed.setText("02:51:00:00:00:00")
    assert not confirm.ok_button.isEnabled()
    confirm.typed.setText(board.mac.upper())
    confirm.ok_button.click()
    qtbot.waitUntil(lambda: page.dialog is None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not page.busy and page.look is not None, timeout=WAIT_MS)
    assert decode_virtual(board.state.flash.read(pt.EFUSE_EM_OFFSET, pt.EFUSE_EM_SIZE)).blank
    qtbot.waitUntil(lambda: "erased" in page.bench_log.toPlainText(), timeout=WAIT_MS)
    assert page.look.efuses is not None and not page.efuse_table.model_.differing

    # the console: live lines, reset into download mode, masked, saved
    page._secrets.add(fleet.access_point.ssid)  # the board prints its SSID: proof each line is masked
    page.tabs.setCurrentWidget(page.console)
    page.console.start()
    qtbot.waitUntil(lambda: "Loaded app from partition" in page.console.text.toPlainText(), timeout=WAIT_MS)
    page.console.download_button.click()
    qtbot.waitUntil(lambda: "waiting for download" in page.console.text.toPlainText(), timeout=WAIT_MS)
    page.console.stop_button.click()
    qtbot.waitUntil(lambda: not page.console.running and page.console.start_button.isEnabled(), timeout=5000)
    text = page.console.text.toPlainText()
    assert fleet.access_point.ssid not in text and fleet.access_point.password not in text
    saved = tmp_path / "console.txt"
    with qtbot.waitSignal(page.console.saved, timeout=5000):
        page.console.save_to(saved)
    assert saved.read_text(encoding="utf-8").strip() == text.strip()
    assert board.errors == []


def test_release_board_actions_are_refused_with_the_reason(
    qtbot: QtBot, board_page: BoardPage, ready: LocalInstance, context: PageContext, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1, prefix="rel")
    provision(ready, context.data_dir, fleet, RELEASE_TASK)
    board_page.refresh()
    identify(qtbot, board_page, fleet.urls[0])
    page = board_page
    assert page.build_badge.text() == "Release build"
    for key in ("reset", "reprovision", "erase"):
        assert not page.buttons[key].isEnabled()
    assert "real Secure Boot eFuses are burned" in page.reasons["reset"].text()
    assert "real Secure Boot is enabled" in page.reasons["erase"].text()
    assert page.buttons["read"].isEnabled() and page.buttons["settings"].isEnabled()
    assert page.efuse_table.isColumnHidden(4), "a release build has no virtual eFuses"


def test_reprovision_loop_from_the_page(
    qtbot: QtBot, board_page: BoardPage, ready: LocalInstance, context: PageContext, make_fleet: FleetFactory
) -> None:
    fleet = make_fleet(1, prefix="loop")
    board, url, ap = fleet.boards[0], fleet.urls[0], fleet.access_point
    provision(ready, context.data_dir, fleet, TASK)
    board_page.refresh()
    identify(qtbot, board_page, url)
    page = board_page
    digests = page.look.facts.virtual_efuses.key_digests  # type: ignore[union-attr]
    erased = board.state.flash.sectors_erased
    page.buttons["reprovision"].click()
    dialog = page.dialog
    assert isinstance(dialog, ReprovisionDialog)
    qtbot.waitUntil(lambda: dialog.task.count() > 0 and dialog.batch.count() > 0, timeout=WAIT_MS)
    assert [dialog.task.itemText(i) for i in range(dialog.task.count())] == [TASK]  # dev tasks only
    dialog.ssid.setText(ap.ssid)
    dialog.password.setText(ap.password)
    dialog.typed.setText(board.mac)
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: page.dialog is None, timeout=WAIT_MS * 2)
    qtbot.waitUntil(
        lambda: not page.busy and "re-provisioned" in page.bench_log.toPlainText(), timeout=WAIT_MS
    )
    log = page.bench_log.toPlainText()
    assert "flash: ok" in log and ap.password not in log
    assert board.state.flash.sectors_erased - erased < 20, "an unchanged IEF is not written again"
    qtbot.waitUntil(lambda: page.look is not None and len(page.history_model.records()) == 2, timeout=WAIT_MS)
    assert (
        page.look.facts.virtual_efuses is not None and page.look.facts.virtual_efuses.key_digests == digests
    )


def test_secure_download_mode_board_says_what_it_cannot_tell(
    qtbot: QtBot, board_page: BoardPage, context: PageContext, make_fleet: FleetFactory
) -> None:
    folder = DataDir(context.data_dir).root / "boards-sdm" / "sdm-1"
    folder.mkdir(parents=True, mode=0o700)
    locked = EfuseState(secure_download=True).with_secure_boot(ChipType.ESP32C3, bytes(range(32)))
    (folder / "efuses.json").write_text(json.dumps(locked.to_json()), encoding="utf-8")
    (folder / "efuses.json").chmod(0o600)
    fleet = make_fleet(1, prefix="sdm")
    board_page.refresh()
    identify(qtbot, board_page, fleet.urls[0])
    page = board_page
    assert page.build_badge.text() == "Build unknown"
    assert "secure download mode" in page.efuse_note.text() and page.efuse_table.model_.rowCount() == 0
    assert not any(button.isEnabled() for button in page.buttons.values())
    assert all("secure download mode" in page.reasons[key].text() for key in ("reset", "settings", "erase"))
