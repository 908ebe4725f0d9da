"""What every page is built from: one object, so the registry can create any page the same way."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app.domain.chips import ChipType
from app.domain.records import InstanceInfo
from app.instance.api import Instance
from app.provisioning.run_request import RunRequest
from app.system.keyring_store import KeyringStore
from app.ui.models.station_log import StationLogModel
from app.ui.passphrase_dialog import SessionPassphrase
from app.ui.settings import StationSettings


@dataclass
class ChosenRequest:
    """The task, batch and WiFi last chosen in a Start provisioning dialog, on whichever page.

    One place, so the dialog opens filled in with the last choice whether it is opened from the Station
    page or from the Provisioning page. The Station page writes it when it accepts a request.
    """

    request: RunRequest | None = None


@dataclass
class AttachedBoards:
    """The chips of the boards plugged in now, as far as the Station page knows them (virtual boards
    name theirs; a real board's is known once a run identified it). The task dialog starts from it."""

    chips: tuple[ChipType, ...] = ()


@dataclass
class PageContext:
    """The instance the window is connected to and the station-wide parts pages share.

    `instance` is only ever called from worker threads (see app/workers/background.py). `passphrase`
    is the session's answer to the instance's passphrase prompt, when the window can take one.
    """

    instance: Instance
    info: InstanceInfo
    settings: StationSettings
    keyring: KeyringStore
    station_log: StationLogModel
    data_dir: Path
    passphrase: SessionPassphrase | None = None
    chosen: ChosenRequest = field(default_factory=ChosenRequest)
    attached: AttachedBoards = field(default_factory=AttachedBoards)
