"""Where the Start provisioning dialog keeps a remembered WiFi password.

The request itself is `app.provisioning.run_request.RunRequest`, one type from the dialog to the station
worker and the command line.
"""

from __future__ import annotations


def wifi_account(ssid: str) -> str:
    """The keyring account a remembered WiFi password is stored under."""
    return f"wifi:{ssid}"
