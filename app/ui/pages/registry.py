"""The one list of pages the window shows, in navigation order.

Each page class carries its own title, icon and order (Picard's options pages). The order follows the
instance's own dashboard — Dashboard, Devices, HSM, Provisioning, Users, Logs — then the station's
pages. Order 60 is the Station page's place (app/ui/pages/station.py): between Logs and Settings.

Pages for IoT Hubs and Database Direct join here when the instance has them.
"""

from __future__ import annotations

from app.domain.kinds import Role
from app.ui.pages.base import Page
from app.ui.pages.board import BoardPage
from app.ui.pages.dashboard import DashboardPage
from app.ui.pages.devices import DevicesPage
from app.ui.pages.firmwares import FirmwaresPage
from app.ui.pages.hsm import HsmPage
from app.ui.pages.logs import LogsPage
from app.ui.pages.outbox import OutboxPage
from app.ui.pages.policies import PoliciesPage
from app.ui.pages.provisioning import ProvisioningPage
from app.ui.pages.records import RecordsPage
from app.ui.pages.settings import SettingsPage
from app.ui.pages.station import StationPage
from app.ui.pages.throughput import ThroughputPage
from app.ui.pages.users import UsersPage

STATION_ORDER = 60

PAGES: tuple[type[Page], ...] = (
    DashboardPage,  # 0
    DevicesPage,  # 10
    HsmPage,  # 20
    FirmwaresPage,  # 25
    PoliciesPage,  # 26
    ProvisioningPage,  # 30
    UsersPage,  # 40, administrators only
    LogsPage,  # 50
    StationPage,  # 60 = STATION_ORDER
    BoardPage,  # 61, the lab bench
    RecordsPage,  # 62
    ThroughputPage,  # 64
    OutboxPage,  # 65
    SettingsPage,  # 70
)


def pages_for(role: Role, pages: tuple[type[Page], ...] = PAGES) -> list[type[Page]]:
    """The pages a user with `role` sees, in navigation order."""
    visible = [p for p in pages if role is Role.ADMINISTRATOR or not p.administrators_only]
    return sorted(visible, key=lambda p: p.order)
