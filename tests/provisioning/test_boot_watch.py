"""BootWatch on boot transcripts in the forms the ESP32 ROMs and ESP-IDF bootloaders print."""

from __future__ import annotations

import pytest

from app.provisioning.boot_watch import BootFault, BootVerdict, BootWatch

ESP32_GOOD = """\
ets Jul 29 2019 12:21:46

rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)
configsip: 0, SPIWP:0xee
clk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00
mode:DIO, clock div:2
load:0x3fff0030,len:7112
load:0x40078000,len:15624
ho 0 tail 12 room 4
load:0x40080400,len:4
entry 0x40080694
I (31) boot: ESP-IDF v5.1.2 2nd stage bootloader
I (31) boot: compile time Jan  1 2025 00:00:00
I (35) boot.esp32: SPI Speed      : 40MHz
I (54) boot: Partition Table:
I (125) boot: End of partition table
I (130) esp_image: segment 0: paddr=00010020 vaddr=3f400020 size=0a3c4h ( 41924) map
I (245) boot: Loaded app from partition at offset 0x10000
I (245) boot: Disabling RNG early entropy source...
I (257) cpu_start: Pro cpu up.
I (270) app_init: Application information:
I (300) main_task: Calling app_main()
"""

C3_INVALID_HEADER = """\
ESP-ROM:esp32c3-api1-20210207
Build:Feb  7 2021
rst:0x1 (POWERON),boot:0xc (SPI_FAST_FLASH_BOOT)
invalid header: 0xffffffff
invalid header: 0xffffffff
"""

ESP32_FLASH_READ = """\
ets Jun  8 2016 00:22:57

rst:0x10 (RTCWDT_RTC_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)
flash read err, 1000
ets_main.c 371
"""

ESP32_ROM_SECURE_BOOT = """\
ets Jul 29 2019 12:21:46

rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)
secure boot check fail
ets_main.c 333
"""

APP_SIGNATURE_REFUSED = """\
ESP-ROM:esp32s3-20210327
Build:Mar 27 2021
rst:0x1 (POWERON),boot:0x8 (SPI_FAST_FLASH_BOOT)
entry 0x403c98d0
I (27) boot: ESP-IDF v5.1.2 2nd stage bootloader
I (95) esp_image: segment 0: paddr=00010020 vaddr=3c020020 size=0b0a8h ( 45224) map
I (134) esp_image: Verifying image signature...
E (512) esp_image: Secure boot signature verification failed
I (512) esp_image: Calculating simple hash to check for corruption...
W (580) esp_image: image valid, signature bad
E (580) boot: Factory app partition is not bootable
E (585) boot: No bootable app partitions in the partition table
"""

APP_CHECKSUM = """\
rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)
entry 0x400805b8
E (354) esp_image: Checksum failed. Calculated 0x15 read 0xf
E (354) boot: Factory app partition is not bootable
E (365) boot: No bootable app partitions in the partition table
"""

APP_MISSING = """\
rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)
E (354) esp_image: image at 0x10000 has invalid magic byte (nothing flashed here?)
E (360) boot: Factory app partition is not bootable
E (365) boot: No bootable app partitions in the partition table
"""

WRONG_CHIP = """\
rst:0x1 (POWERON),boot:0xc (SPI_FAST_FLASH_BOOT)
I (27) boot: ESP-IDF v5.1.2 2nd stage bootloader
E (95) boot_comm: mismatch chip ID, expected 5, found 9
E (100) boot: Factory app partition is not bootable
E (105) boot: No bootable app partitions in the partition table
"""

PANIC = """\
rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)
I (245) boot: Loaded app from partition at offset 0x10000
I (257) cpu_start: Pro cpu up.
Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.
"""

ABORT = """\
rst:0x1 (POWERON),boot:0xc (SPI_FAST_FLASH_BOOT)
I (300) main_task: Calling app_main()
abort() was called at PC 0x42007a3c on core 0
"""

BROWNOUT_LOOP = """\
rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)
I (257) cpu_start: Pro cpu up.

Brownout detector was triggered

ets Jul 29 2019 12:21:46

rst:0xf (RTCWDT_BROWN_OUT_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)
I (257) cpu_start: Pro cpu up.

Brownout detector was triggered

ets Jul 29 2019 12:21:46

rst:0xf (RTCWDT_BROWN_OUT_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)
"""

C3_WATCHDOG_LOOP = """\
rst:0x1 (POWERON),boot:0xc (SPI_FAST_FLASH_BOOT)
I (30) boot: ESP-IDF v5.1.2 2nd stage bootloader
rst:0x10 (RTCWDT_RTC_RST),boot:0xc (SPI_FAST_FLASH_BOOT)
I (30) boot: ESP-IDF v5.1.2 2nd stage bootloader
rst:0x7 (TG0WDT_SYS_RST),boot:0xc (SPI_FAST_FLASH_BOOT)
"""

SOFTWARE_LOOP = """\
rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)
I (300) main_task: Calling app_main()
rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)
I (300) main_task: Calling app_main()
rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)
"""

ESP32_DOWNLOAD = """\
ets Jul 29 2019 12:21:46

rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))
waiting for download
"""

C3_DOWNLOAD = """\
ESP-ROM:esp32c3-api1-20210207
Build:Feb  7 2021
rst:0x1 (POWERON),boot:0x5 (DOWNLOAD(USB/UART0/1))
"""


def feed(text: str, watch: BootWatch | None = None) -> tuple[BootVerdict | None, BootWatch]:
    watch = watch or BootWatch()
    for line in text.splitlines():
        verdict = watch.feed(line)
        if verdict is not None:
            return verdict, watch
    return None, watch


def test_a_good_boot_reaches_the_app_with_no_verdict() -> None:
    verdict, watch = feed(ESP32_GOOD)
    assert verdict is None
    assert watch.started and watch.boots == 1 and not watch.talking


def test_the_ief_marker_means_the_firmware_talks() -> None:
    verdict, watch = feed("rst:0x1 (POWERON),boot:0xc (SPI_FAST_FLASH_BOOT)\nIEF DATA\n")
    assert verdict is None and watch.started and watch.talking


@pytest.mark.parametrize(
    ("transcript", "fault", "evidence"),
    [
        (C3_INVALID_HEADER, BootFault.INVALID_HEADER, "invalid header: 0xffffffff"),
        (ESP32_FLASH_READ, BootFault.FLASH_READ, "flash read err, 1000"),
        (ESP32_ROM_SECURE_BOOT, BootFault.SECURE_BOOT, "secure boot check fail"),
        (APP_SIGNATURE_REFUSED, BootFault.SECURE_BOOT, "Secure boot signature verification failed"),
        (APP_CHECKSUM, BootFault.IMAGE_CORRUPT, "Checksum failed"),
        (APP_MISSING, BootFault.INVALID_HEADER, "invalid magic byte"),
        (PANIC, BootFault.PANIC, "Guru Meditation Error"),
        (WRONG_CHIP, BootFault.WRONG_CHIP, "mismatch chip ID, expected 5, found 9"),
        (ABORT, BootFault.PANIC, "abort() was called"),
        (BROWNOUT_LOOP, BootFault.BROWNOUT, "Brownout detector was triggered"),
        (C3_WATCHDOG_LOOP, BootFault.WATCHDOG, "TG0WDT_SYS_RST"),
        (SOFTWARE_LOOP, BootFault.BOOT_LOOP, "SW_CPU_RESET"),
        (ESP32_DOWNLOAD, BootFault.DOWNLOAD_MODE, "DOWNLOAD_BOOT"),
        (C3_DOWNLOAD, BootFault.DOWNLOAD_MODE, "DOWNLOAD(USB/UART0/1)"),
    ],
)
def test_each_failure_is_named_with_the_boards_words(
    transcript: str, fault: BootFault, evidence: str
) -> None:
    verdict, _ = feed(transcript)
    assert verdict is not None, transcript
    assert verdict.fault is fault
    assert evidence in verdict.evidence
    sentence = verdict.sentence()
    assert sentence.startswith(fault.value) and verdict.advice in sentence


def test_the_verdict_comes_at_the_first_decisive_line() -> None:
    watch = BootWatch()
    lines = C3_INVALID_HEADER.splitlines()
    verdicts = [watch.feed(line) for line in lines[:4]]
    assert verdicts[:3] == [None, None, None] and verdicts[3] is not None


def test_one_reset_the_firmware_asked_for_is_not_a_loop() -> None:
    """First boot with security features enabled restarts once by design."""
    verdict, watch = feed(
        "rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n"
        "I (300) main_task: Calling app_main()\n"
        "rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n"
        "I (300) main_task: Calling app_main()\n"
    )
    assert verdict is None and watch.started and watch.boots == 2


def test_a_line_cut_by_garbage_still_counts() -> None:
    verdict, _ = feed("\ufffd\ufffdets Jul 29 2019 12:21:46\nx\ufffdflash read err, 1000\n")
    assert verdict is not None and verdict.fault is BootFault.FLASH_READ


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   ",
        "\ufffd\ufffd\ufffd\ufffd\x07\x01",
        "I (12) IEF: QuarkLink Initial Enrolment Firmware",
        "E (x) ???: ",
        "W (4000) wifi:Haven't to connect to a suitable AP now!",
        "invalid",
        "rst:",
        "rst:0xZZ (NOPE)",
    ],
)
def test_ordinary_or_broken_lines_decide_nothing(line: str) -> None:
    assert BootWatch().feed(line) is None


def test_silence_and_time_out_verdicts_say_what_was_seen() -> None:
    watch = BootWatch()
    assert watch.silent(3).fault is BootFault.SILENT
    assert "3 s" in watch.silent(3).sentence()
    feed("rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\nI (31) boot: some line\n", watch)
    late = watch.timed_out(15)
    assert late.fault is BootFault.NOT_STARTED and "some line" in late.evidence and "15 s" in late.sentence()


def test_mostly_unreadable_output_is_called_garbled() -> None:
    watch = BootWatch()
    for _ in range(5):
        watch.feed("\ufffd\ufffd\x03\ufffd~\ufffd\ufffd")
    verdict = watch.timed_out(5)
    assert verdict.fault is BootFault.NOT_STARTED and "unreadable" in verdict.sentence()
