"""Start provisioning: the WiFi network the boards will join, the batch, and the task.

The password field is masked and the password is held only in memory, in the `RunRequest`
the dialog emits, unless the person ticks "Remember in the keyring": then it goes to the OS keyring
under `wifi:<network name>` and nowhere else. A remembered password is filled in when the network name
is typed again. Which ports to use is chosen on the Station page, which consumes the request.

"Continue to ports" does the same wherever the dialog was opened (Station or Provisioning page): the
request goes to the Station page, which is shown, and nothing starts until the person presses Provision
(a dialog's OK must never re-provision boards that happen to be ticked). The dialog opens filled in with
the last request (`last`): network name, batch and task; a remembered password is read from the keyring.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QWidget

from app.domain.errors import ValidationError
from app.domain.records import Batch, ProvisioningTask
from app.instance.api import Instance
from app.provisioning.job import validate_wifi
from app.provisioning.run_request import RunRequest
from app.system.keyring_store import KeyringStore
from app.ui.pages.provisioning_request import wifi_account
from app.ui.widgets.form_dialog import FormDialog
from app.workers.background import start_call
from app.workers.listing import Listing, collect

LOOKUP_DELAY_MS = 400  # look the network up once the person pauses typing


class StartProvisioningDialog(FormDialog):
    requested = Signal(object)  # RunRequest

    def __init__(
        self,
        parent: QWidget | None,
        instance: Instance,
        keyring: KeyringStore,
        task: str | None = None,
        batch: str | None = None,
        last: RunRequest | None = None,
    ) -> None:
        super().__init__(
            parent,
            "Start provisioning",
            "Continue to ports",
            "Boards join this WiFi network to reach the instance. Their DeviceIDs go into the batch.",
        )
        self._instance = instance
        self._keyring = keyring
        self._wanted = (task or (last.task if last else None), batch or (last.batch if last else None))
        self.request: RunRequest | None = None
        self.remembered_ssid: str | None = None

        self.ssid = QLineEdit()
        self.ssid.setPlaceholderText("network name (SSID)")
        self._lookup_timer = QTimer(self)
        self._lookup_timer.setSingleShot(True)
        self._lookup_timer.setInterval(LOOKUP_DELAY_MS)
        self._lookup_timer.timeout.connect(self.look_up_password)
        self.ssid.textChanged.connect(self._ssid_changed)
        self.ssid.editingFinished.connect(self.look_up_password)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("empty for an open network")
        self.remember = QCheckBox("Remember the password in the OS keyring")
        self.batch = QComboBox()
        self.task = QComboBox()
        if last is not None:
            self.ssid.setText(last.ssid)
        self.form.addRow("Network name", self.ssid)
        self.form.addRow("Password", self.password)
        self.form.addRow("", self.remember)
        self.form.addRow("Batch", self.batch)
        self.form.addRow("Task", self.task)
        self.loaded = 0
        start_call(
            keyring.available, "Checking the OS keyring", self._keyring_checked, self.show_failure, owner=self
        )
        start_call(
            lambda: collect(instance.list_batches),
            "Loading the batches",
            self._batches,
            self.show_failure,
            owner=self,
        )
        start_call(
            lambda: collect(instance.list_tasks),
            "Loading the tasks",
            self._tasks,
            self.show_failure,
            owner=self,
        )

    # --- loading choices -------------------------------------------------------------------------
    def _keyring_checked(self, available: bool) -> None:
        self.remember.setEnabled(available)
        if not available:
            self.remember.setChecked(False)
            self.remember.setToolTip("No OS keyring is available on this computer; the password is not kept.")

    def _batches(self, listing: Listing[Batch]) -> None:
        self._fill(
            self.batch, [b.name for b in listing.items], self._wanted[1], "no batches: create one first"
        )

    def _tasks(self, listing: Listing[ProvisioningTask]) -> None:
        names = [t.name for t in listing.items]
        labels = {
            t.name: f"{t.name}  ({t.device_type.display_name}, {t.bootloader.value})" for t in listing.items
        }
        self._fill(self.task, names, self._wanted[0], "no tasks: create one first", labels)

    def _fill(
        self,
        combo: QComboBox,
        names: list[str],
        wanted: str | None,
        empty: str,
        labels: dict[str, str] | None = None,
    ) -> None:
        combo.clear()
        for name in names:
            combo.addItem((labels or {}).get(name, name), name)
        if not names:
            combo.addItem(empty, None)
        if wanted is not None and combo.findData(wanted) >= 0:
            combo.setCurrentIndex(combo.findData(wanted))
        self.loaded += 1

    # --- keyring ---------------------------------------------------------------------------------
    def _ssid_changed(self, ssid: str) -> None:
        if self.remembered_ssid is not None and ssid != self.remembered_ssid:
            # the filled-in password belonged to the previous network name
            self.password.clear()
            self.remember.setChecked(False)
            self.remembered_ssid = None
        self._lookup_timer.start()

    def look_up_password(self) -> None:
        ssid = self.ssid.text()
        if not ssid or not self.remember.isEnabled() or self.password.text():
            return
        start_call(
            lambda: self._keyring.get(wifi_account(ssid)),
            "Reading the remembered WiFi password",
            lambda secret: self._remembered(ssid, secret),
            self.show_failure,
            owner=self,
        )

    def _remembered(self, ssid: str, secret: str | None) -> None:
        if secret is not None and ssid == self.ssid.text() and not self.password.text():
            self.password.setText(secret)
            self.remember.setChecked(True)
            self.remembered_ssid = ssid

    # --- submit ----------------------------------------------------------------------------------
    def submit(self) -> None:
        ssid, password = self.ssid.text(), self.password.text()
        try:
            validate_wifi(ssid, password)
        except ValidationError as exc:
            self.show_problem(str(exc))
            return
        task, batch = self.task.currentData(), self.batch.currentData()
        if not batch:
            self.show_problem("Choose the batch the boards' DeviceIDs go into.")
            return
        if not task:
            self.show_problem("Choose a provisioning task.")
            return
        request = RunRequest(task, batch, ssid, password)
        store, account = self._keyring, wifi_account(ssid)
        if self.remember.isChecked():
            self.run(
                lambda: store.set(account, password),
                "Saving the WiFi password",
                lambda _r: self._done(request),
            )
        elif self.remembered_ssid == ssid:
            self.run(
                lambda: store.delete(account), "Forgetting the WiFi password", lambda _r: self._done(request)
            )
        else:
            self._done(request)

    def _done(self, request: RunRequest) -> None:
        self.request = request
        self.requested.emit(request)
        self.accept()
