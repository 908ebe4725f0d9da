"""listen_for_boot on a real pyserial loop:// port: what is judged, what is handed to the IEF session."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import serial

from app.provisioning.boot_listen import BootFailedError, ReplayPort, listen_for_boot
from app.provisioning.boot_watch import BootFault, BootWatch

BANNER = b"ESP-ROM:esp32c3-api1-20210207\r\nrst:0x1 (POWERON),boot:0xc (SPI_FAST_FLASH_BOOT)\r\n"
APP = b"I (300) cpu_start: Pro cpu start user code\r\nI (310) IEF: DeviceID: " + b"ab" * 32 + b"\r\n"
MARKER = b"IEF DATA\r\n\x00wifi_ssid\r\n"


@pytest.fixture
def port() -> Iterator[serial.Serial]:
    loop = serial.serial_for_url("loop://", timeout=0.05)
    yield loop
    loop.close()


class Clock:
    """Steps by `step` seconds on every call, so a test never sleeps through a real window."""

    def __init__(self, step: float = 0.01) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_the_marker_and_what_follows_reach_the_ief_session(port: serial.Serial) -> None:
    port.write(BANNER + APP + MARKER)
    seen: list[str] = []
    handed = listen_for_boot(port, BootWatch(), limit=5, on_line=seen.append)
    assert isinstance(handed, ReplayPort)
    assert seen == ["ESP-ROM:esp32c3-api1-20210207", "rst:0x1 (POWERON),boot:0xc (SPI_FAST_FLASH_BOOT)"]
    replay = handed.read(4096)
    assert replay.startswith(b"I (300) cpu_start") and replay.endswith(MARKER)  # the app's lines, once
    handed.write(b"answer\n")
    assert handed.read(100) == b"answer\n"  # after the replay: the port itself


def test_a_decisive_line_fails_at_once_with_the_app_lines_logged(port: serial.Serial) -> None:
    port.write(BANNER + APP + b"Guru Meditation Error: Core  0 panic'ed (LoadProhibited).\r\n" + MARKER)
    seen: list[str] = []
    with pytest.raises(BootFailedError) as failed:
        listen_for_boot(port, BootWatch(), limit=5, on_line=seen.append)
    assert failed.value.verdict.fault is BootFault.PANIC
    assert str(failed.value).startswith('firmware panic (the board said "Guru Meditation')
    assert seen[-1].startswith("Guru Meditation") and seen[2].startswith("I (300) cpu_start")


def test_nothing_at_all_is_silence(port: serial.Serial) -> None:
    with pytest.raises(BootFailedError) as failed:
        listen_for_boot(port, BootWatch(), limit=15, silence=3, clock=Clock(0.5))
    assert failed.value.verdict.fault is BootFault.SILENT and "3 s" in str(failed.value)


def test_output_that_never_reaches_the_app_times_out_quoting_the_last_line(port: serial.Serial) -> None:
    port.write(BANNER + b"I (31) boot: ESP-IDF v5.1.2 2nd stage bootloader\r\n")
    with pytest.raises(BootFailedError) as failed:
        listen_for_boot(port, BootWatch(), limit=4, clock=Clock(0.2))
    verdict = failed.value.verdict
    assert verdict.fault is BootFault.NOT_STARTED and "2nd stage bootloader" in verdict.evidence


def test_a_started_app_without_a_marker_is_handed_over_after_the_grace(port: serial.Serial) -> None:
    port.write(BANNER + APP)
    handed = listen_for_boot(port, BootWatch(), limit=15, app_grace=1, clock=Clock(0.1))
    assert handed.read(4096) == APP


def test_a_line_that_never_ends_is_judged_and_bounded(port: serial.Serial) -> None:
    data = BANNER + b"x" * 10_000 + b"invalid header: 0xffffffff\r\n"
    writer = threading.Thread(target=port.write, args=(data,))  # loop:// holds 4 KiB: write as we read
    writer.start()
    with pytest.raises(BootFailedError) as failed:
        listen_for_boot(port, BootWatch(), limit=5)
    writer.join(timeout=5)
    assert failed.value.verdict.fault is BootFault.INVALID_HEADER
