"""Screenshots of every page, taken from a real window on a real local instance with demo data.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_screenshots.py [--out docs/screenshots]

Runs offscreen in a temporary data folder. Secrets stay in an in-memory keyring made for this script, so
neither the person's OS keyring nor their station preferences are touched. Each page is grabbed at
1280x800 once its background loads have finished. The Station shots provision virtual boards (served in
this process, registered in the temporary data folder) with real port workers; the production-mode shot
is taken at 1600x1060 so its sixteen tiles fit.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from keyring.backend import KeyringBackend  # noqa: E402
from PySide6.QtCore import QCoreApplication, QSettings, QThreadPool  # noqa: E402
from PySide6.QtGui import QKeySequence  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from app.domain.chips import ChipType  # noqa: E402
from app.domain.kinds import (  # noqa: E402
    BootloaderKind,
    ConnectionType,
    DeviceState,
    IefKind,
    ImageKind,
    KeyType,
    Role,
)
from app.enrolment.runner import EnrolListen, start_enrolment  # noqa: E402
from app.enrolment.service import EnrolmentService  # noqa: E402
from app.instance.local.instance import LocalInstance  # noqa: E402
from app.instance.mirror.instance import MirrorInstance  # noqa: E402
from app.instance.mirror.store import MirrorStore  # noqa: E402
from app.instance.remote.connection import Connection  # noqa: E402
from app.instance.remote.instance import RemoteInstance  # noqa: E402
from app.provisioning.board_vetting import BoardRefusal, KnownBoard  # noqa: E402
from app.provisioning.device_journal import JournalState  # noqa: E402
from app.provisioning.events import Outcome  # noqa: E402
from app.provisioning.records import RecordsDB  # noqa: E402
from app.provisioning.run_request import RunRequest  # noqa: E402
from app.server.http_api import create_app  # noqa: E402
from app.server.https_server import HttpsServer, Listen, bind, tls_context  # noqa: E402
from app.server.served_instance import ServedInstance  # noqa: E402
from app.sim.faults import Faults, Stage  # noqa: E402
from app.sim.fleet import SimFleet, default_access_point  # noqa: E402
from app.sim.images import build_sim_ief  # noqa: E402
from app.system.keyring_store import KeyringStore  # noqa: E402
from app.system.paths import DataDir  # noqa: E402
from app.ui.application import station_log  # noqa: E402
from app.ui.demo import DEMO_BATCH, DEMO_TASK, ensure_demo_data  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402
from app.ui.pages.context import PageContext  # noqa: E402
from app.ui.pages.devices import DevicesPage  # noqa: E402
from app.ui.pages.firmwares import FirmwaresPage  # noqa: E402
from app.ui.pages.hsm import HsmPage  # noqa: E402
from app.ui.pages.policies import PoliciesPage  # noqa: E402
from app.ui.pages.provisioning import ProvisioningPage  # noqa: E402
from app.ui.pages.settings import SettingsPage  # noqa: E402
from app.ui.pages.station import StationPage  # noqa: E402
from app.ui.pages.station_keys import START_ACTION, STOP_ACTION  # noqa: E402
from app.ui.pages.station_release_dialog import ReleaseConfirmDialog  # noqa: E402
from app.ui.pages.users import UsersPage  # noqa: E402
from app.ui.settings import StationSettings  # noqa: E402
from app.ui.style import apply_theme  # noqa: E402
from app.ui.widgets.port_tile import PortTile  # noqa: E402
from app.ui.window_sessions import shut_down  # noqa: E402
from tests.support.memory_keyring import MemoryKeyring  # noqa: E402

SIZE = (1280, 800)


class ScriptKeyring(KeyringStore):
    def __init__(self) -> None:
        super().__init__(service="ql-station-screenshots")
        self._memory = MemoryKeyring()

    def _backend(self) -> KeyringBackend:
        return self._memory


def ids(count: int, salt: str) -> list[str]:
    return [hashlib.sha256(f"{salt}-{i}".encode()).hexdigest() for i in range(count)]


SHOWN_ENROLLED = 40


def enrolment_history(instance: LocalInstance, devices: list[str]) -> None:
    """Real certificates for the rows the Devices shot shows: boards that enrolled over the past months
    through the enrolment service's own desk (a clock set back for each), reported their firmware, and
    then one renewed by a person, one revoked, and those enrolled over a year ago run out."""
    now = datetime.now(UTC).replace(microsecond=0)
    at = [now]
    desk = instance.device_enrolment(lambda: at[0])
    for n, device in enumerate(devices):
        at[0] = now - timedelta(days=56 * n + 2, minutes=37 * n)  # factory: 730 days; the 14th on ran out
        desk.enrol(device, ec.generate_private_key(ec.SECP256R1()).public_key())
        desk.report_status(device, "2.1.0" if n % 4 else "2.0.3")
    instance.renew_device(devices[2])
    instance.set_device_state([devices[5]], DeviceState.REVOKED)
    instance.dashboard_summary()  # its expiry sweep makes the run-out ones Expired


def demo_data(instance: LocalInstance) -> None:
    instance.create_signing_key("production-2025", KeyType.RSA_3072)
    instance.create_signing_key("lab-rsa", KeyType.RSA_3072)
    instance.create_signing_key("legacy-ecdsa", KeyType.ECDSA_P256)
    instance.create_task(
        "esp32c3-production", ChipType.ESP32C3, BootloaderKind.RELEASE, IefKind.NON_DEBUG, "production-2025"
    )
    instance.create_task("esp32-lab", ChipType.ESP32, BootloaderKind.DEV, IefKind.DEBUG, "lab-rsa")
    instance.create_task("esp32s3-field", ChipType.ESP32S3, BootloaderKind.DEV, IefKind.NON_DEBUG, "lab-rsa")
    instance.create_policy("factory", certificate_days=730, jwt_minutes=60)
    instance.create_policy("lab", certificate_days=30, auto_renew=False, jwt_minutes=15)
    instance.create_policy(
        "hub pilot", connection=ConnectionType.IOT_HUB, certificate_days=365, jwt_minutes=30
    )
    line = ids(12_480, "line")
    instance.create_batch("line-2 March", policy="factory")
    instance.add_devices("line-2 March", line)
    enrolment_history(instance, line[:SHOWN_ENROLLED])
    # Beyond the rows in sight, states are set by hand: 11,000 real enrolments would only slow the script.
    rest = line[SHOWN_ENROLLED:11_300]  # the newest boards are not enrolled yet
    instance.set_device_state(rest, DeviceState.ENROLLED)
    instance.set_device_state(rest[2::47], DeviceState.RENEWED)
    instance.set_device_state(rest[5::297], DeviceState.REVOKED)
    instance.set_device_state(rest[9::538], DeviceState.EXPIRED)
    lab = ids(64, "lab")
    instance.create_batch("lab veFuse builds", policy="lab")
    instance.add_devices("lab veFuse builds", lab)
    instance.set_device_state(lab[:40], DeviceState.ENROLLED)
    field = ids(310, "field")
    instance.create_batch("field re-enrolment", policy="default")
    instance.add_devices("field re-enrolment", field)
    instance.set_device_state(field[:288], DeviceState.ENROLLED)
    instance.set_device_state(field[288:293], DeviceState.EXPIRED)
    instance.create_batch("line-3 April", policy="factory")
    instance.create_user("alice", "alice-demo-password", Role.ADMINISTRATOR)
    instance.create_user("bob", "bob-demo-password", Role.CONTRIBUTOR)
    instance.create_user("dana", "dana-demo-password", Role.CONTRIBUTOR)
    firmware_data(instance, lab)


def firmware_data(instance: LocalInstance, lab: list[str]) -> None:
    """Three firmwares, one assigned to a batch, and lab devices that enrolled and reported a version
    through the instance's own enrolment desk (so "devices running it" is counted, not typed in)."""
    builds = (
        (
            "sensor-app-2.1.0",
            "2.1.0",
            ChipType.ESP32C3,
            [("hw", "rev2"), ("region", "eu")],
            "production-2025",
        ),
        ("sensor-app-2.0.3", "2.0.3", ChipType.ESP32C3, [("hw", "rev2")], "production-2025"),
        ("lab-diagnostics", "0.9.1", ChipType.ESP32, [("hw", "devkit")], "lab-rsa"),
    )
    for name, version, chip, attributes, key in builds:
        image = build_sim_ief(chip, IefKind.NON_DEBUG, version=version)
        instance.upload_firmware(name, version, chip, attributes, image, key)
    instance.set_batch_firmware("line-2 March", "sensor-app-2.1.0")
    instance.set_batch_firmware("lab veFuse builds", "lab-diagnostics")
    desk = instance.device_enrolment()
    for index, device_id in enumerate(lab[:24]):
        desk.enrol(device_id, ec.generate_private_key(ec.SECP256R1()).public_key())
        desk.report_status(device_id, "2.1.0" if index < 17 else "2.0.3" if index < 21 else "0.9.1")


def station_log_lines() -> None:
    log = logging.getLogger("app.provisioning.supervisor")
    ports = logging.getLogger("app.ports.hotplug")
    ports.info("board plugged in: rfc2217://127.0.0.1:40411 (virtual ESP32-C3)")
    ports.info("board plugged in: rfc2217://127.0.0.1:40412 (virtual ESP32-C3)")
    log.debug("port 40411: worker started (pid 48211)")
    log.info("port 40411: ESP32-C3 detected, MAC 58:cf:79:0a:12:3e, secure boot off")
    log.info("port 40411: flashed bootloader, partition table, IEF in 9.8 s (verified)")
    log.info("port 40411: DeviceID 3f2a…9c1d added to batch 'line-2 March'")
    log.warning("port 40412: board slow to answer in download mode; retrying at 115200 baud")
    log.error("port 40413: board vanished during flash at 0x10000 (412,160 of 655,360 bytes)")
    log.info("port 40412: DeviceID 9b0e…41aa added to batch 'line-2 March'")


def settle(app: QApplication, rounds: int = 6) -> None:
    """Let every background call finish and every result be shown."""
    pool = QThreadPool.globalInstance()
    for _ in range(rounds):
        pool.waitForDone(30_000)
        for _ in range(5):
            app.processEvents()
    QCoreApplication.sendPostedEvents()


def shoot(app: QApplication, widget: QWidget, path: Path, before: Callable[[], None] | None = None) -> None:
    if before is not None:
        before()
    settle(app)
    widget.grab().save(str(path))
    print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--line-only", action="store_true", help="only the Station shots of 16 and 64 boards")
    parser.add_argument(
        "--dialogs-only", action="store_true", help="only the pages and dialogs (no boards are provisioned)"
    )
    parser.add_argument("--offline-only", action="store_true", help="only the shots of a window gone offline")
    parser.add_argument("--board-only", action="store_true", help="only the Board page shots")
    parser.add_argument(
        "--enrolment-only", action="store_true", help="only the Station shot of runs waiting for enrolment"
    )
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv)
    with tempfile.TemporaryDirectory(prefix="ql-screenshots-") as folder:
        root = Path(folder)
        keyring = ScriptKeyring()
        settings = StationSettings(QSettings(str(root / "settings.ini"), QSettings.Format.IniFormat))
        apply_theme(app, "light")
        log_model, relay = station_log()
        db = root / "station" / "instance" / "local.sqlite3"
        db.parent.mkdir(parents=True)
        instance = LocalInstance.open(db, keyring=keyring)
        windows: list[MainWindow] = []
        served: ServedInstance | None = None
        enrolment: EnrolmentService | None = None
        try:
            demo_data(instance)
            enrolment = serve_enrolments(instance, root / "station")
            station_log_lines()
            context = PageContext(instance, instance.info(), settings, keyring, log_model, root / "station")
            window = MainWindow(context)
            windows.append(window)
            if args.line_only:
                ensure_demo_data(instance)
                line_shots(app, context, out, root)
            elif args.offline_only:
                served = offline_shots(app, context, windows, out, root)
            elif args.board_only:
                board_shots(app, context, out, root)
            elif args.enrolment_only:
                enrolment_shot(app, window, out, root)
            elif args.dialogs_only:
                take_all(app, window, out, root, station=False)
            else:
                take_all(app, window, out, root)
                line_shots(app, context, out, root)
                board_shots(app, context, out, root)
                served = offline_shots(app, context, windows, out, root)
                enrolment_shot(app, window, out, root)
        finally:
            if enrolment is not None:
                enrolment.stop()
            if windows:
                shut_down(app, windows, relay)  # closes the instance too
            else:
                relay.detach()
                instance.close()
            if served is not None:
                served.close()
    return 0


def offline_shots(
    app: QApplication, context: PageContext, windows: list[MainWindow], out: Path, root: Path
) -> ServedInstance:
    """The demo instance served over HTTPS, mirrored by a second window, then the server stopped.

    Returns the served instance for the caller to close after the windows (their mirror holds a
    client of it).
    """
    db = root / "station" / "instance" / "local.sqlite3"
    served = ServedInstance(db, keyring=context.keyring)
    certificate = served.station.issue_server_certificate(["127.0.0.1"])
    ca_file = root / "paired-root-ca.pem"
    ca_file.write_text(next(c.pem for c in served.station.certificates() if c.role == "root"))
    server = HttpsServer(create_app(served), bind(Listen("127.0.0.1", 0)), tls_context(certificate, root))
    server.start()
    url = f"https://127.0.0.1:{server.port}"
    remote = RemoteInstance(Connection(url, ca_file, token=served.issue_token(None), connect_timeout_s=1))
    mirror = MirrorInstance(remote, MirrorStore(root / "line-pc" / "mirror.sqlite3", url))
    mirror.store.track_batch("line-2 March")
    mirror.refresh()
    with RecordsDB(DataDir(root / "line-pc").ensure().records_db) as records:
        for device_id in ids(3, "offline"):
            entry = records.journal.receive(device_id, batch="line-2 March", move=False, port="/dev/ttyUSB3")
            records.journal.settle(entry.id, JournalState.QUEUED, "the instance cannot be reached")
    server.stop()
    offline_context = replace(context, instance=mirror, info=mirror.info(), data_dir=root / "line-pc")
    window = MainWindow(offline_context)
    windows.append(window)
    window.resize(*SIZE)
    window.show()
    wait_for(app, lambda: not window.connection_watch.state.online, timeout=30)
    devices = window.page("Devices")
    assert isinstance(devices, DevicesPage)

    def devices_ready() -> None:
        window.show_page("Devices")
        settle(app)
        devices.select_batch("line-2 March")

    shoot(app, window, out / "devices-offline.png", devices_ready)
    shoot(app, window, out / "outbox-offline.png", lambda: window.show_page("Outbox"))
    return served


def take_all(app: QApplication, window: MainWindow, out: Path, root: Path, station: bool = True) -> None:
    window.resize(*SIZE)
    window.set_port_count(4)
    window.show()
    settle(app)

    def page(title: str) -> Callable[[], None]:
        return lambda: window.show_page(title)

    shoot(app, window, out / "dashboard.png", page("Dashboard"))
    devices = window.page("Devices")
    assert isinstance(devices, DevicesPage)

    def devices_ready() -> None:
        window.show_page("Devices")
        settle(app)
        devices.select_batch("line-2 March")
        settle(app)
        devices.select_device(2)  # a renewed device: Renew and Revoke are offered

    shoot(app, window, out / "devices.png", devices_ready)
    hsm = window.page("HSM")
    assert isinstance(hsm, HsmPage)

    def hsm_ready() -> None:
        window.show_page("HSM")
        settle(app)
        hsm.keys.selectRow(0)

    shoot(app, window, out / "hsm.png", hsm_ready)
    firmwares = window.page("Firmwares")
    assert isinstance(firmwares, FirmwaresPage)

    def firmwares_ready() -> None:
        window.show_page("Firmwares")
        settle(app)
        firmwares.select_firmware("sensor-app-2.1.0")

    shoot(app, window, out / "firmwares.png", firmwares_ready)
    upload = firmwares.open_upload_dialog()
    build = root / "sensor-app-2.2.0.bin"
    build.write_bytes(build_sim_ief(ChipType.ESP32C3, IefKind.NON_DEBUG, version="2.2.0"))
    upload.load_file(build)
    wait_for(app, lambda: upload.loaded is not None and upload.key.count() > 0)
    upload.version.setText("2.2.0")
    upload.attributes.setText("hw=rev2, region=eu")
    upload.key.setCurrentIndex(upload.key.findData("production-2025"))
    settle(app)
    shoot(app, upload, out / "firmwares-upload.png")
    upload.reject()
    for title in ("Provisioning", "Users", "Logs", "Settings"):
        shoot(app, window, out / f"{title.lower()}.png", page(title))
    shoot(app, window, out / "settings-self-check.png", lambda: self_check_ran(app, window))
    shoot(app, window, out / "settings-line.png", lambda: line_keys_chosen(app, window))
    policy_shots(app, window, out)
    dialogs(app, window, out, root)
    management_dialogs(app, window, out, root)
    if station:
        station_shots(app, window, out, root)
    apply_theme(app, "dark")
    shoot(app, window, out / "dashboard-dark.png", page("Dashboard"))
    apply_theme(app, "light")


def line_keys_chosen(app: QApplication, window: MainWindow) -> None:
    """Settings → Line: a pedal's F9 kept as the start key, Ctrl+Q refused as the stop key, sound on."""
    window.show_page("Settings")
    settings_page = window.page("Settings")
    assert isinstance(settings_page, SettingsPage)
    line = settings_page.line
    line.choose(START_ACTION, QKeySequence("F9"))
    line.sound.setChecked(True)
    line.choose(STOP_ACTION, QKeySequence("Ctrl+Q"))
    settle(app)
    settings_page.sections.ensureWidgetVisible(line.try_sound, 0, 40)
    settle(app)


def policy_shots(app: QApplication, window: MainWindow, out: Path) -> None:
    """The Policies page, a policy's Edit dialog, a delete refused because batches use the policy, and a
    batch given another policy on the Devices page."""
    policies = window.page("Policies")
    assert isinstance(policies, PoliciesPage)

    def factory_selected() -> None:
        window.show_page("Policies")
        settle(app)
        policies.select_policy("factory")

    shoot(app, window, out / "policies.png", factory_selected)
    edit = policies.open_edit_dialog()
    assert edit is not None
    edit.certificate_days.setValue(365)
    shoot(app, edit, out / "policies-edit-policy.png")
    edit.reject()
    delete = policies.open_delete_dialog()
    assert delete is not None
    delete.submit()
    shoot(app, delete, out / "policies-delete-refused.png")
    delete.reject()
    devices = window.page("Devices")
    assert isinstance(devices, DevicesPage)
    window.show_page("Devices")
    settle(app)
    devices.select_batch("lab veFuse builds")
    change = devices.open_policy_dialog()
    assert change is not None
    settle(app)
    change.policy.setCurrentIndex(change.policy.findData("factory"))
    shoot(app, change, out / "devices-batch-policy.png")
    change.reject()


def self_check_ran(app: QApplication, window: MainWindow) -> None:
    """Settings with the self-check's findings shown (the button pressed, its checks finished)."""
    window.show_page("Settings")
    settings_page = window.page("Settings")
    assert isinstance(settings_page, SettingsPage)
    settings_page.self_check.run()
    settle(app)
    # The section is below the fold of the taller Settings page: scrolled to, as the person who pressed
    # its button would be.
    settings_page.sections.ensureWidgetVisible(settings_page.self_check, 0, 0)
    settle(app)


def dialogs(app: QApplication, window: MainWindow, out: Path, root: Path) -> None:
    """The dialogs people meet most: a rejected batch file, a new task, starting a run."""
    devices = window.page("Devices")
    assert isinstance(devices, DevicesPage)
    window.show_page("Devices")
    bad = root / "line-4.json"
    good = ids(3, "bad-file")
    bad.write_text(
        '{"devices": [\n'
        f'  "{good[0]}",\n'
        f'  "{good[1][:61]}",\n'
        '  "3F2A9C1D-0000-4000-8000-00000000",\n'
        f'  "{good[2]}",\n'
        "  null\n"
        "]}\n"
    )
    create = devices.open_create_dialog()
    create.name.setText("line-4 May")
    create.id_input.setText(good[2][:50])
    create.load_file(bad)
    shoot(app, create, out / "devices-create-batch.png")
    create.reject()

    provisioning = window.page("Provisioning")
    assert isinstance(provisioning, ProvisioningPage)
    window.show_page("Provisioning")
    task = provisioning.open_create_dialog()
    task.name.setText("esp32s3-lab")
    settle(app)
    task.device_type.setCurrentIndex(task.device_type.findData(ChipType.ESP32S3))  # ECDSA: not offered
    shoot(app, task, out / "provisioning-create-task.png")
    task.reject()

    start = provisioning.open_start_dialog()
    settle(app)
    start.ssid.setText("factory-floor-2")
    start.password.setText("demo-wifi-password")
    start.remember.setChecked(True)
    start.batch.setCurrentIndex(start.batch.findData("line-2 March"))
    start.task.setCurrentIndex(start.task.findData("esp32c3-production"))
    shoot(app, start, out / "provisioning-start.png")
    start.reject()


def management_dialogs(app: QApplication, window: MainWindow, out: Path, root: Path) -> None:
    """Issue 13's dialogs: every problem at once, adding to and deleting a batch, editing a task,
    importing an image, and the release confirmation naming a board already in another batch."""
    users = window.page("Users")
    assert isinstance(users, UsersPage)
    window.show_page("Users")
    user = users.open_create_dialog()
    user.username.setText("line lead!")
    user.password.setText("short")
    user.repeat.setText("shorter")
    user.submit()
    shoot(app, user, out / "users-create-user-problems.png")
    user.reject()

    hsm = window.page("HSM")
    assert isinstance(hsm, HsmPage)
    window.show_page("HSM")
    key = hsm.open_create_dialog()
    key.submit()
    shoot(app, key, out / "hsm-create-key.png")
    key.reject()

    devices = window.page("Devices")
    assert isinstance(devices, DevicesPage)
    window.show_page("Devices")
    settle(app)
    devices.select_batch("line-3 April")
    more = root / "line-3-extra.json"
    more.write_text('{"devices": [' + ", ".join(f'"{i}"' for i in ids(250, "extra")) + "]}")
    add = devices.open_add_dialog()
    assert add is not None
    add.id_input.setText(ids(1, "typed-extra")[0])
    add.add_typed_id()
    add.load_file(more)
    shoot(app, add, out / "devices-add-devices.png")
    add.reject()
    devices.select_batch("line-2 March")
    settle(app)
    ask = devices.confirm_delete()
    assert ask is not None
    shoot(app, ask, out / "devices-delete-batch.png")
    ask.reject()

    provisioning = window.page("Provisioning")
    assert isinstance(provisioning, ProvisioningPage)
    window.show_page("Provisioning")
    settle(app)
    provisioning.select_task("esp32s3-field")
    edit = provisioning.open_edit_dialog()
    assert edit is not None
    settle(app)
    edit.ief.setCurrentIndex(edit.ief.findData(IefKind.DEBUG))
    shoot(app, edit, out / "provisioning-edit-task.png")
    edit.reject()
    image = root / "esp32c3-ief-debug-v2.bin"
    image.write_bytes(build_sim_ief(ChipType.ESP32C3, IefKind.DEBUG))
    importing = provisioning.open_import_dialog()
    importing.kind.setCurrentIndex(importing.kind.findData(ImageKind.IEF))
    importing.load_file(image)
    shoot(app, importing, out / "provisioning-import-image.png")
    importing.reject()

    known = KnownBoard("58:cf:79:0a:12:3e", ids(1, "known-board")[0], "line-2 March", "the instance says so")
    release = ReleaseConfirmDialog(
        window,
        "esp32c3-production",
        "line-3 April",
        4,
        [("sim-2", BoardRefusal(known, "line-3 April").reason)],
    )
    release.open()
    shoot(app, release, out / "station-release-confirm.png")
    release.reject()


def wait_for(app: QApplication, done: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            tiles = [
                (t.title.text(), t.state.value, t.step.text())
                for w in app.topLevelWidgets()
                if isinstance(w, MainWindow) and w.isVisible()
                for t in w.findChildren(PortTile)
            ]
            raise TimeoutError(f"the station did not get there in time: {tiles}")
        app.processEvents()
        time.sleep(0.01)


def serve_enrolments(instance: LocalInstance, folder: Path) -> EnrolmentService:
    """The instance's enrolment service on a free loopback port, and the boards sent there (as the window
    serves it on the instance port): runs wait for enrolment, so their boards must be able to enrol."""
    folder.mkdir(parents=True, exist_ok=True)
    service = start_enrolment(instance, EnrolListen("127.0.0.1", 0), folder)
    instance.set_instance_params(instance.instance_params().endpoint, service.port)
    return service


def enrolment_shot(app: QApplication, window: MainWindow, out: Path, root: Path) -> None:
    """Three boards waiting for enrolment: two enrol (PASS names their firmware), one sends a DeviceID
    damaged on its UART and fails at the enrol step with the reason."""
    ensure_demo_data(window.instance)
    data = DataDir(root / "station")
    station = window.page("Station")
    assert isinstance(station, StationPage)
    window.show_page("Station")
    faults = [None, Faults(corrupt_device_id=True), None]
    folder = data.sim_boards / "enrolment"
    with SimFleet(folder, count=3, pacing=False, registry=data.sim_registry, faults=faults) as fleet:
        wait_for(app, lambda: set(fleet.urls) <= set(station.port_list.checked()))
        ap = fleet.access_point
        station.accept_provisioning_request(RunRequest(DEMO_TASK, DEMO_BATCH, ap.ssid, ap.password))
        before = len(station.results)
        station.start_ticked()
        wait_for(app, lambda: len(station.results) >= before + 3)
        shoot(app, window, out / "station-enrolment.png")


def station_shots(app: QApplication, window: MainWindow, out: Path, root: Path) -> None:
    """Four virtual boards provisioned from the Station page; then production mode with sixteen."""
    ensure_demo_data(window.instance)
    data = DataDir(root / "station")
    station = window.page("Station")
    assert isinstance(station, StationPage)
    window.show_page("Station")
    with SimFleet(data.sim_boards / "bench", count=4, pacing=False, registry=data.sim_registry) as fleet:
        wait_for(app, lambda: set(fleet.urls) <= set(station.port_list.checked()))
        ap = fleet.access_point
        station.accept_provisioning_request(RunRequest(DEMO_TASK, DEMO_BATCH, ap.ssid, ap.password))
        station.start_ticked()
        wait_for(app, lambda: len(station.results) == 4)
        window.set_port_count(4)
        shoot(app, window, out / "station.png")
        station.show_drawer(fleet.urls[1], 1)
        shoot(app, window, out / "station-console.png")
        station.drawer.close_drawer()
    production_shot(app, window, out, root)


def production_shot(app: QApplication, first: MainWindow, out: Path, root: Path) -> None:
    """A fresh window in production mode: sixteen boards plugged in, provisioned with no click.

    Fourteen boards are plugged in first, one of them the wrong chip (FAIL); once they are done, two
    spares that hang arrive, one while flashing and one in the middle of enrolment, so the picture
    shows every state at once.
    """
    earlier = first.page("Station")
    assert isinstance(earlier, StationPage)
    earlier.shutdown()  # one station per set of boards: the first window's would start them too
    window = MainWindow(first.context)
    window.resize(1600, 1060)
    window.show()
    window.show_page("Station")
    station = window.page("Station")
    assert isinstance(station, StationPage)
    data = DataDir(root / "station")
    ap = default_access_point()
    line: list[Faults | None] = [None] * 14
    line[6] = Faults(report_chip=ChipType.ESP32S3)
    spares = [Faults(stall_at_stage=Stage.FLASH_DATA), Faults(stall_at_stage=Stage.IEF_REQUEST)]

    def step(title: str) -> str:
        tiles = {t.title.text(): t for t in station.grid.tiles.values()}
        return tiles[title].step.text() if title in tiles else ""

    try:
        wait_for(app, lambda: station.scanned)
        station.accept_provisioning_request(RunRequest(DEMO_TASK, DEMO_BATCH, ap.ssid, ap.password))
        station.production_button.click()
        wait_for(app, lambda: "PRODUCTION MODE —" in station.production_banner.text())
        settle(app)
        with (
            SimFleet(
                data.sim_boards / "line",
                count=14,
                pacing=False,
                faults=line,
                access_point=ap,
                registry=data.sim_registry,
                name_prefix="slot",
            ),
        ):
            wait_for(app, lambda: len(station.results) == 14)
            with SimFleet(
                data.sim_boards / "spares",
                count=2,
                pacing=False,
                faults=spares,
                access_point=ap,
                registry=data.sim_registry,
                name_prefix="spare",
            ):
                wait_for(
                    app,
                    lambda: (
                        step("spare-1").startswith("Flashing") and step("spare-2").startswith("Enrolling")
                    ),
                )
                assert sum(r.outcome is Outcome.FAIL for r in station.results) == 1
                settle(app)
                shoot(app, window, out / "station-production.png")
                station.production_button.click()
                station.shutdown()  # cancels the two hung boards and resets them before they are unplugged
    finally:
        window.close()
        window.deleteLater()
        settle(app)


def line_shots(app: QApplication, context: PageContext, out: Path, root: Path) -> None:
    """A production line: 16 boards at 1280x800, then 64 at 1920x1080 running and in production mode.

    Each shot is a fresh window (one station per set of boards). Some boards are the wrong chip (FAIL)
    and some hang while flashing, so the pictures hold every state at once.
    """
    data = DataDir(root / "station")
    ap = default_access_point()
    request = RunRequest(DEMO_TASK, DEMO_BATCH, ap.ssid, ap.password)

    def faults(count: int, wrong: set[int], hung: set[int]) -> list[Faults | None]:
        line: list[Faults | None] = [None] * count
        for i in wrong:
            line[i] = Faults(report_chip=ChipType.ESP32S3)
        for i in hung:
            line[i] = Faults(stall_at_stage=Stage.FLASH_DATA)
        return line

    def station_window(size: tuple[int, int]) -> tuple[MainWindow, StationPage]:
        window = MainWindow(context)
        window.resize(*size)
        window.show()
        window.show_page("Station")
        station = window.page("Station")
        assert isinstance(station, StationPage)
        wait_for(app, lambda: station.scanned)
        return window, station

    def finish(window: MainWindow, station: StationPage) -> None:
        station.shutdown()  # cancels the hung boards and resets them before they are unplugged
        window.close()
        window.deleteLater()
        settle(app)

    # 16 boards, started by hand at 1280x800: one wrong chip, two hanging.
    window, station = station_window((1280, 800))
    with SimFleet(
        data.sim_boards / "bench16", count=16, pacing=False, faults=faults(16, {5}, {9, 14}),
        access_point=ap, registry=data.sim_registry, name_prefix="bench",
    ) as fleet:  # fmt: skip
        wait_for(app, lambda: set(fleet.urls) <= set(station.port_list.checked()))
        station.accept_provisioning_request(request)
        station.start_ticked()
        wait_for(app, lambda: len(station.results) == 14)
        window.set_port_count(16)
        shoot(app, window, out / "station-16-1280x800.png")
        failed = next(u for u, t in station.grid.tiles.items() if t.state.value == "fail")
        station.show_drawer(failed, 0)
        shoot(app, window, out / "station-16-1280x800-reason.png")
        station.drawer.close_drawer()
        window.resize(1920, 1080)  # the same line on a large screen: full tiles with their buttons
        shoot(app, window, out / "station-16-1920x1080.png")
        finish(window, station)

    # 64 boards at 1920x1080: running, then production mode with mixed results.
    def sixty_four(production: bool) -> None:
        window, station = station_window((1920, 1080))
        name = "line" if production else "rack"
        if production:
            station.accept_provisioning_request(request)
            station.production_button.click()
            wait_for(app, lambda: "PRODUCTION MODE —" in station.production_banner.text())
        with SimFleet(
            data.sim_boards / name, count=64, pacing=not production, faults=faults(64, {7, 40}, {21, 50}),
            access_point=ap, registry=data.sim_registry, name_prefix=name,
        ) as fleet:  # fmt: skip
            if production:
                wait_for(app, lambda: len(station.results) == 62, timeout=600)
                shot = "station-64-1920x1080-production.png"
            else:
                wait_for(app, lambda: set(fleet.urls) <= set(station.port_list.checked()))
                station.accept_provisioning_request(request)
                station.start_ticked()
                wait_for(app, lambda: sum(t.state.value == "running" for t in station.grid.ordered()) >= 40)
                shot = "station-64-1920x1080-running.png"
            shoot(app, window, out / shot)
            if production:  # the same 64 on a small screen: compact tiles, the grid scrolls
                window.resize(1280, 800)
                shoot(app, window, out / "station-64-1280x800-production.png")
            finish(window, station)

    sixty_four(production=False)
    sixty_four(production=True)


class _Quiet:
    def on_event(self, event: object) -> None:
        pass

    def on_finished(self, summary: object) -> None:
        pass


def board_shots(app: QApplication, context: PageContext, out: Path, root: Path) -> None:
    """The Board page with a dev (veFuse) board and with a release board, each provisioned first by the
    real engine, then identified from the page; the dev shot also shows its console for a moment."""
    from app.provisioning.job_builder import provisioning_job
    from app.provisioning.records import RecordsDB
    from app.provisioning.supervisor import Supervisor
    from app.ui.pages.board import BoardPage

    ensure_demo_data(context.instance)
    data = DataDir(root / "station").ensure()
    ap = default_access_point()
    window = MainWindow(context)
    window.resize(*SIZE)
    window.show()
    window.show_page("Board")
    page = window.page("Board")
    assert isinstance(page, BoardPage)
    try:
        for name, task, confirm in (
            ("dev", DEMO_TASK, None),
            ("release", "esp32c3-production", "line-2 March"),
        ):
            batch = confirm or DEMO_BATCH
            with SimFleet(
                data.sim_boards / f"lab-{name}", count=1, pacing=False, access_point=ap,
                registry=data.sim_registry, name_prefix=f"lab-{name}",
            ) as fleet:  # fmt: skip
                job = provisioning_job(
                    context.instance, task=task, batch=batch, ssid=ap.ssid, password=ap.password,
                    confirm_release=confirm,
                )  # fmt: skip
                with RecordsDB(data.records_db) as records:
                    supervisor = Supervisor(context.instance, records, _Quiet(), data_dir=data.root)
                    supervisor.start_all([job.for_port(fleet.urls[0])])
                    supervisor.wait()
                    supervisor.close()
                page.refresh()
                wait_for(app, lambda: page.port_box.findData(fleet.urls[0]) >= 0)
                page.select_port(fleet.urls[0])
                page.identify()
                wait_for(app, lambda: not page.busy and page.look is not None)
                if name == "dev":
                    page.tabs.setCurrentIndex(1)
                    page.console.start()
                    wait_for(app, lambda: "Loaded app from partition" in page.console.text.toPlainText())
                    wait_for(app, lambda: "deviceID:" in page.console.text.toPlainText())
                    shoot(app, window, out / "board-page-dev-console.png")
                    page.console.stop_and_wait()
                    page.tabs.setCurrentIndex(0)
                shoot(app, window, out / f"board-page-{name}.png")
                page.console.stop_and_wait()
    finally:
        page.shutdown()
        window.close()
        window.deleteLater()
        settle(app)


if __name__ == "__main__":
    raise SystemExit(main())
