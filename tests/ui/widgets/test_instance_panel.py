"""Settings → Instance: pairing with a real served instance from the window, and going back."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.domain.kinds import Role
from app.domain.records import InstanceInfo
from app.instance.remote import pairing
from app.instance.station_access import StationAccess
from app.system.keyring_store import KeyringStore
from app.system.paths import DataDir
from app.ui.widgets.instance_panel import InstancePanel
from tests.server.conftest import Serving

INFO = InstanceInfo(
    "QuarkLink local instance 1a2b3c4d",
    "local",
    "/data/instance/local.sqlite3",
    "1",
    "station",
    Role.ADMINISTRATOR,
)


@pytest.fixture
def access(tmp_path: Path) -> StationAccess:
    return StationAccess(DataDir(tmp_path / "station"), KeyringStore())


def _panel(qtbot: QtBot, access: StationAccess) -> InstancePanel:
    panel = InstancePanel(access, INFO)
    qtbot.addWidget(panel)
    panel.show()
    return panel


def _click(qtbot: QtBot, button: object) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # type: ignore[arg-type]


def test_pairing_shows_the_fingerprint_and_pairs_only_after_confirming(
    qtbot: QtBot, access: StationAccess, serving: Serving
) -> None:
    panel = _panel(qtbot, access)
    assert panel.built_in.isChecked() and not panel.url.isEnabled()
    assert "QuarkLink local instance 1a2b3c4d (local)" in panel.in_use.text()
    panel.remote.setChecked(True)
    assert panel.url.isEnabled() and not panel.confirm.isEnabled()  # nothing to confirm yet
    qtbot.keyClicks(panel.url, serving.url)
    _click(qtbot, panel.fetch)
    qtbot.waitUntil(lambda: panel.confirm.isEnabled())
    root = next(c for c in serving.served.station.certificates() if c.role == "root")
    assert panel.fingerprint.text().replace("\n", ":") == root.fingerprint_sha256
    assert "Compare this fingerprint" in panel.message.text()
    assert pairing.load(access.data_dir.root) is None  # shown, not yet trusted

    _click(qtbot, panel.confirm)
    qtbot.waitUntil(lambda: "Paired with" in panel.message.text())
    paired = pairing.load(access.data_dir.root)
    assert paired is not None and (paired.url, paired.fingerprint) == (serving.url, root.fingerprint_sha256)
    assert "next start" in panel.message.text()

    again = _panel(qtbot, access)  # the page opened later shows the pairing
    assert again.remote.isChecked() and again.url.text() == serving.url
    again.built_in.setChecked(True)
    _click(qtbot, again.use_built_in)
    qtbot.waitUntil(lambda: "built-in instance from its next start" in again.message.text())
    assert pairing.load(access.data_dir.root) is None


def test_a_server_that_cannot_be_reached_is_said_in_the_panel(qtbot: QtBot, access: StationAccess) -> None:
    panel = _panel(qtbot, access)
    panel.remote.setChecked(True)
    panel.url.setText("https://127.0.0.1:9")
    _click(qtbot, panel.fetch)
    qtbot.waitUntil(lambda: panel.message.objectName() == "problem")
    assert "cannot reach https://127.0.0.1:9" in panel.message.text()
    assert not panel.confirm.isEnabled() and pairing.load(access.data_dir.root) is None
    panel.url.setText("http://plain:80")
    _click(qtbot, panel.fetch)
    qtbot.waitUntil(lambda: "HTTPS only" in panel.message.text())


def test_a_server_that_changed_its_ca_after_the_fingerprint_was_shown_is_refused(
    qtbot: QtBot, access: StationAccess, serve: object
) -> None:
    first, second = serve(), serve()  # type: ignore[operator]
    panel = _panel(qtbot, access)
    panel.remote.setChecked(True)
    panel.url.setText(first.url)
    _click(qtbot, panel.fetch)
    qtbot.waitUntil(lambda: panel.confirm.isEnabled())
    assert panel.offer is not None
    # The person confirmed the first instance's fingerprint, but the address now answers with another.
    panel.offer = pairing.RootCaOffer(
        second.url, panel.offer.pem, panel.offer.fingerprint, "", panel.offer.not_after
    )
    _click(qtbot, panel.confirm)
    qtbot.waitUntil(lambda: panel.message.objectName() == "problem")
    assert "not the expected" in panel.message.text() and "nothing was paired" in panel.message.text()
    assert pairing.load(access.data_dir.root) is None


def test_the_settings_page_has_the_instance_section(qtbot: QtBot, context: object) -> None:
    from app.ui.pages.context import PageContext
    from app.ui.pages.settings import SettingsPage

    assert isinstance(context, PageContext)
    page = SettingsPage(context)
    qtbot.addWidget(page)
    assert context.info.name in page.instance_panel.in_use.text()
    assert page.instance_panel.built_in.isChecked()
