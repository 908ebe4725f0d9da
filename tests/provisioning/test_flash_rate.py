"""Choosing the flashing rate from the USB bridge, a rate set for the run, and the next lower rate."""

from __future__ import annotations

import pytest

from app.ports.discovery import PortInfo, PortKind
from app.ports.usb_ids import identify_usb
from app.provisioning.flash_rate import choose_flash_rate, rate_for_port
from app.provisioning.job import AUTO_BAUD, DEFAULT_BAUD, FLASH_BAUDS, next_lower_baud


@pytest.mark.parametrize(
    ("vid", "pid", "baud", "source"),
    [
        (0x10C4, 0xEA60, 921600, "CP2102/9 datasheet"),
        (0x1A86, 0x7523, 2000000, "CH340/CH341 datasheet"),
        (0x1A86, 0x55D3, 2000000, "CH343 datasheet"),
        (0x1A86, 0x55D4, 2000000, "CH9102 datasheet"),
        (0x0403, 0x6001, 2000000, "FT232R"),
        (0x0403, 0x6010, 2000000, "12 Mbaud"),
        (0x0403, 0x6014, 2000000, "12 Mbaud"),
        (0x0403, 0x6015, 2000000, "FT-X"),
        (0x303A, 0x1001, 2000000, "baud rate is ignored"),
        (0x303A, 0x4242, 2000000, "baud rate is ignored"),  # another Espressif USB product
    ],
)
def test_each_bridge_gets_its_fastest_reliable_rate(vid: int, pid: int, baud: int, source: str) -> None:
    bridge = identify_usb(vid, pid)
    assert bridge is not None
    rate = choose_flash_rate(bridge)
    assert rate.baud == baud and rate.baud in FLASH_BAUDS
    assert source in rate.reason and bridge.label in rate.reason


def test_every_known_bridge_names_the_source_of_its_figure() -> None:
    from app.ports.usb_ids import _KNOWN

    for bridge in _KNOWN.values():
        assert "datasheet" in bridge.rate_source or bridge.max_baud is None, bridge
        assert bridge.max_baud is None or bridge.max_baud in FLASH_BAUDS


def test_an_unknown_bridge_gets_the_usual_rate() -> None:
    assert choose_flash_rate(None).baud == DEFAULT_BAUD
    assert choose_flash_rate(identify_usb(0x1234, 0x5678)).baud == DEFAULT_BAUD


def test_a_rate_set_for_the_run_wins_and_says_when_it_is_above_the_bridge() -> None:
    cp210x = identify_usb(0x10C4, 0xEA60)
    assert choose_flash_rate(cp210x, 460800).baud == 460800
    fast = choose_flash_rate(cp210x, 2000000)
    assert fast.baud == 2000000 and "above the Silicon Labs CP210x's 921600" in fast.reason
    assert choose_flash_rate(None, 115200).reason == "set for this run"


def test_rate_for_port_looks_the_port_up() -> None:
    ch340 = PortInfo("/dev/ttyUSB3", PortKind.USB, "x", 0x1A86, 0x7523, bridge=identify_usb(0x1A86, 0x7523))
    assert rate_for_port("/dev/ttyUSB3", [ch340]).baud == 2000000
    assert rate_for_port("/dev/ttyUSB9", [ch340]).baud == DEFAULT_BAUD
    assert rate_for_port("/dev/ttyUSB3", [ch340], 230400).baud == 230400
    assert AUTO_BAUD not in FLASH_BAUDS


@pytest.mark.parametrize(
    ("baud", "lower"),
    [(2000000, 1500000), (1500000, 921600), (921600, 460800), (230400, 115200), (115200, None), (1000, None)],
)
def test_next_lower_rate(baud: int, lower: int | None) -> None:
    assert next_lower_baud(baud) == lower


def test_a_bridge_too_slow_for_both_tries_fails_the_flash_naming_both(  # type: ignore[no-untyped-def]
    instance, batch, records, make_fleet
) -> None:
    from dataclasses import replace

    from app.provisioning.events import LogEvent, Outcome, Step
    from app.provisioning.job_builder import provisioning_job
    from app.sim.faults import Faults

    from .conftest import DEV_TASK, run_jobs

    fleet = make_fleet(1, faults=[Faults(max_baud=230400)])
    ap = fleet.access_point
    job = provisioning_job(instance, task=DEV_TASK, batch=batch, ssid=ap.ssid, password=ap.password)
    job = replace(job, baud=921600).for_port(fleet.urls[0])
    events, summaries = run_jobs(instance, records, [job])
    summary = summaries[job.port]
    assert summary.outcome is Outcome.FAIL and summary.step is Step.FLASH, summary.message
    assert "tried once more at 460800 baud" in summary.message
    logs = [e.text for e in events.of_port(job.port) if isinstance(e, LogEvent)]
    assert any(text.startswith("flashing at 921600 baud failed") for text in logs)
