"""The dashboard is O(batches): it never reads the devices table, whatever the instance holds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from app.domain.kinds import DeviceState, HealthLevel
from app.instance.local.instance import LocalInstance


def test_summary_never_touches_devices(tmp_path: Path, device_ids: Callable[..., list[str]]) -> None:
    with LocalInstance.open(tmp_path / "local.sqlite3") as instance:
        instance.create_batch("b")
        ids = device_ids(300)
        instance.add_devices("b", ids)
        instance.set_device_state(ids[:10], DeviceState.ENROLLED)
        statements: list[str] = []
        connections = [instance._db._conn, *instance._db._idle_readers]  # white-box: what SQL runs
        assert len(connections) > 1, "reads have connections of their own beside the writer"
        for conn in connections:
            conn.set_trace_callback(statements.append)
        try:
            summary = instance.dashboard_summary()
            instance.list_batches()
        finally:
            for conn in connections:
                conn.set_trace_callback(None)
        assert statements
        assert not [s for s in statements if "devices" in s.lower()]
        assert (summary.devices.total, summary.devices.enrolled) == (300, 10)


def test_health_panels(tmp_path: Path) -> None:
    with LocalInstance.open(tmp_path / "local.sqlite3") as instance:
        panels = {h.name: h for h in instance.dashboard_summary().health}
    assert all(p.level is HealthLevel.OK for p in panels.values())
    assert panels["HSM"].detail.startswith("3 private keys encrypted at rest")
    assert "OS keyring" in panels["HSM"].detail
    assert "MB on disk" in panels["Database"].detail
    assert (panels["IoT Hubs"].up, panels["IoT Hubs"].total) == (0, 0)
    assert panels["IoT Hubs"].detail == "no IoT hubs configured"


def test_certificate_usage_follows_devices_and_endpoint(
    tmp_path: Path, device_ids: Callable[..., list[str]]
) -> None:
    with LocalInstance.open(tmp_path / "local.sqlite3") as instance:
        instance.set_instance_params("localhost", 6000)
        counts = instance.dashboard_summary().certificates
        assert (counts.valid, counts.not_used, counts.expired) == (2, 1, 0)  # issuing: no enrolment yet
        instance.create_batch("b")
        (one,) = device_ids(1)
        instance.add_devices("b", [one])
        assert instance.dashboard_summary().certificates.not_used == 2  # and the device's, not yet used
        instance.set_device_state([one], DeviceState.ENROLLED)
        counts = instance.dashboard_summary().certificates
        assert (counts.valid, counts.not_used) == (4, 0)  # the PKI's three and the device's
        instance.set_instance_params("elsewhere.example.com", 6000)  # not a name in the TLS certificate
        counts = instance.dashboard_summary().certificates
        assert (counts.valid, counts.not_used) == (3, 1)
