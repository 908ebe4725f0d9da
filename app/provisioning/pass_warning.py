"""Why a passed run is not plain green, decided once in the engine from the run's step facts.

The Station tile (app/workers/port_states.py), the command line's summary and the provisioning record
all show the same warning, so the rule lives here, below all three: the IEF step says whether the board
was seen joining WiFi and whether it asked for the network given; the enrol step can prove the WiFi after
all (the board reached the instance) or say the enrolment could not be confirmed (offline).
"""

from __future__ import annotations

from enum import Enum

from app.provisioning.ief_session import NetworkState


class PassWarning(Enum):
    """KEPT_WIFI: the board joined with the network it had kept and never asked for the one given, so it
    may not work where it is going (a re-run does not change a board's WiFi). WIFI_UNCONFIRMED: the
    board never said whether it joined. ENROLMENT_UNCONFIRMED: the instance could not be asked (offline)
    whether the board enrolled.
    """

    KEPT_WIFI = "kept wifi"
    WIFI_UNCONFIRMED = "wifi unconfirmed"
    ENROLMENT_UNCONFIRMED = "enrolment unconfirmed"


RECORD_TEXT: dict[PassWarning, str] = {
    PassWarning.KEPT_WIFI: (
        "joined the WiFi network it had kept, not the one given (it never asked for one): it may not join "
        "at its destination; erase its flash and provision it again to change it"
    ),
    PassWarning.WIFI_UNCONFIRMED: "WiFi not confirmed: the board printed no network address in time",
    PassWarning.ENROLMENT_UNCONFIRMED: "enrolment not confirmed: offline",
}
"""What a record, an export and the command line say for each warning (the window has its own words)."""


def pass_warning(wifi: NetworkState | None, ssid_sent: bool | None) -> PassWarning | None:
    """The warning the IEF step's facts give."""
    if wifi is NetworkState.UNCONFIRMED:
        return PassWarning.WIFI_UNCONFIRMED
    if wifi is NetworkState.JOINED and ssid_sent is False:
        return PassWarning.KEPT_WIFI
    return None


def after_enrolment(warning: PassWarning | None, enrolled: bool | None) -> PassWarning | None:
    """The warning once the enrol step said `enrolled`: Enrolled proves a WiFi join the board did not
    print; not confirmed (offline) is the warning that matters now; None (no answer) changes nothing."""
    if enrolled:
        return None if warning is PassWarning.WIFI_UNCONFIRMED else warning
    if enrolled is False:
        return PassWarning.ENROLMENT_UNCONFIRMED
    return warning
