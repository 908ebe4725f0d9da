"""What the Start provisioning dialog hands to the Station page: plain data, no Qt.

The Station page turns it into a job (`app.provisioning.job_builder.provisioning_job`) once the person
has chosen the ports. The password is hidden from `repr()` so a request can be logged safely.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.provisioning.job import MASK


@dataclass(frozen=True)
class ProvisioningRequest:
    task: str
    batch: str
    ssid: str
    password: str
    remember: bool = False

    def __repr__(self) -> str:
        return (
            f"ProvisioningRequest(task={self.task!r}, batch={self.batch!r}, ssid={self.ssid!r}, "
            f"password={MASK if self.password else ''!r}, remember={self.remember})"
        )

    __str__ = __repr__


def wifi_account(ssid: str) -> str:
    """The keyring account a remembered WiFi password is stored under."""
    return f"wifi:{ssid}"
