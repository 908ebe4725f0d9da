"""`ql-station gui --demo` (`make run`): four virtual boards and a task ready, so one click provisions them.

On the local instance it creates, if missing, an RSA-3072 signing key `demo-key`, a task `demo-esp32c3`
(ESP32-C3, dev bootloader, debug IEF), a firmware `demo-app-2.1.0` (the simulation app at version
2.1.0, signed by the same key, so the boards' secure boot trusts it) and a batch `demo-batch` that
updates its devices to it: once enrolled, each board downloads 2.1.0, restarts into it and reports it.
Then it starts `ql-station sim --boards 4 --chip esp32c3` in a child process (pacing on, so people see
the progress at the station's flashing baud), starts the built-in instance's enrolment service so the
boards enrol after joining WiFi, and hands the Station page a request for that task, batch and the
simulated network. The Station page then reads "Provision 4 boards": one click. In production mode
the boards start with none.

The simulated network's password is read from the file the simulator writes, held only in memory and
filled (masked) into the Start provisioning dialog; it is never logged. All of it runs off the GUI
thread. The simulator is stopped when the window closes; app/workers/demo_simulator.py explains the
watchdog that ends it if the station dies first.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.domain.chips import ChipType
from app.domain.errors import NotFoundError
from app.domain.kinds import BootloaderKind, IefKind, ImageKind, KeyType
from app.domain.records import PageRequest, ProvisioningTask
from app.enrolment.runner import BesideServer, start_for_station
from app.instance.api import Instance
from app.provisioning.run_request import RunRequest
from app.sim.images import build_sim_ief, build_sim_partition_table
from app.workers.background import start_call
from app.workers.demo_simulator import DemoSimulator

log = logging.getLogger(__name__)

DEMO_KEY = "demo-key"
DEMO_TASK = "demo-esp32c3"
DEMO_BATCH = "demo-batch"
DEMO_BOARDS = 4
DEMO_FIRMWARE = "demo-app-2.1.0"
DEMO_FIRMWARE_VERSION = "2.1.0"


def ensure_demo_data(instance: Instance) -> None:
    """The demo key, task and batch; existing ones are kept (a second demo run reuses them)."""
    try:
        instance.get_signing_key(DEMO_KEY)
    except NotFoundError:
        instance.create_signing_key(DEMO_KEY, KeyType.RSA_3072)
    try:
        task = instance.get_task(DEMO_TASK)
    except NotFoundError:
        task = instance.create_task(DEMO_TASK, ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG, DEMO_KEY)
    _with_an_ota_slot(instance, task)
    try:
        instance.get_firmware(DEMO_FIRMWARE)
    except NotFoundError:
        app = build_sim_ief(ChipType.ESP32C3, IefKind.DEBUG, version=DEMO_FIRMWARE_VERSION)
        attributes = [("board", "esp32c3-devkit")]
        instance.upload_firmware(
            DEMO_FIRMWARE, DEMO_FIRMWARE_VERSION, ChipType.ESP32C3, attributes, app, DEMO_KEY
        )
    try:
        batch = instance.get_batch(DEMO_BATCH)
    except NotFoundError:
        batch = instance.create_batch(DEMO_BATCH)
    if batch.firmware is None:
        instance.set_batch_firmware(DEMO_BATCH, DEMO_FIRMWARE)


def _with_an_ota_slot(instance: Instance, task: ProvisioningTask) -> None:
    """An instance made before firmware updates holds a simulation partition table without `ota_0`:
    its boards would refuse the demo firmware ("no OTA slot"). The demo task gets today's table."""
    table = build_sim_partition_table(ChipType.ESP32C3)
    digest = hashlib.sha256(table).hexdigest()
    images = instance.list_images(PageRequest(search=task.partition_table_image), ChipType.ESP32C3).items
    if any(i.name == task.partition_table_image and i.sha256 == digest for i in images):
        return
    name = f"sim-esp32c3-partition-table-ota-{digest[:8]}"
    if not any(i.sha256 == digest for i in instance.list_images(PageRequest(search=name)).items):
        instance.import_image(name, ChipType.ESP32C3, ImageKind.PARTITION_TABLE, "", table)
    instance.update_task(
        task.name, task.device_type, task.bootloader, task.ief, task.signing_key,
        task.bootloader_image, name, task.ief_image,
    )  # fmt: skip


@dataclass(frozen=True)
class DemoReady:
    urls: list[str]
    request: RunRequest = field(repr=False)


class DemoSession(QObject):
    """Prepares the demo in the background; `ready` carries the request for the Station page."""

    ready = Signal(object)  # DemoReady
    failed = Signal(object)  # CallFailure, for the window's error sink
    progress = Signal(str)

    def __init__(self, instance: Instance, data_dir: Path, boards: int = DEMO_BOARDS) -> None:
        super().__init__()
        self.instance = instance
        self.simulator = DemoSimulator(data_dir, boards=boards)
        self.data_dir = data_dir
        self.enrolment: BesideServer | None = None  # the built-in instance's enrolment service
        self.result: DemoReady | None = None

    def start(self) -> None:
        self.progress.emit("Demo: preparing the demo key, task, firmware and batch, and four virtual boards…")
        start_call(self._prepare, "Preparing the demo", self._prepared, self.failed.emit, owner=self)

    def _prepare(self) -> DemoReady:
        ensure_demo_data(self.instance)
        self.enrolment = start_for_station(self.instance, self.data_dir)  # so the boards can enrol
        log.info("demo: %s", self.enrolment.banner)
        urls = self.simulator.start()
        network = self.simulator.network
        assert network is not None
        log.info("demo: %d virtual boards on the simulated network %r", len(urls), network.ssid)
        return DemoReady(urls, RunRequest(DEMO_TASK, DEMO_BATCH, network.ssid, network.password))

    def _prepared(self, result: DemoReady) -> None:
        self.result = result
        self.ready.emit(result)

    def stop(self) -> None:
        """Stop the virtual boards. Call after the Station page stopped (its runs were cancelled)."""
        self.simulator.stop()
        if self.enrolment is not None:
            self.enrolment.stop()


def attach_demo(window: object, instance: Instance, data_dir: Path) -> DemoSession:
    """Start a demo for `window` (a MainWindow): errors go to its error sink, the request to its Station."""
    from app.ui.main_window import MainWindow
    from app.ui.pages.station import StationPage

    assert isinstance(window, MainWindow)
    session = DemoSession(instance, data_dir)

    def ready(result: DemoReady) -> None:
        window.show_page(StationPage.title)
        station = window.page(StationPage.title)
        assert isinstance(station, StationPage)
        station.use_demo(result.request, result.urls)
        count = len(result.urls)
        window.statusBar().showMessage(
            f"Demo ready: {count} virtual ESP32-C3 boards. Press “Provision {count} boards”."
        )

    session.ready.connect(ready)
    session.failed.connect(window.show_error)
    session.progress.connect(lambda text: window.statusBar().showMessage(text))
    session.start()
    return session
