"""Where the Start provisioning dialog keeps a remembered WiFi password.

The request itself is `app.provisioning.run_request.RunRequest`, one type from the dialog to the station
worker and the command line. `ProvisioningRequest` names the same class for the scripts under docs/ and
benchmarks/ that still import it from here; it is not a second type.
"""

from __future__ import annotations

from app.provisioning.run_request import RunRequest

ProvisioningRequest = RunRequest


def wifi_account(ssid: str) -> str:
    """The keyring account a remembered WiFi password is stored under."""
    return f"wifi:{ssid}"
