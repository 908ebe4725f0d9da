"""BoardConnection end to end against the independent esp32-mock-bootloader peer (a real subprocess)."""

from __future__ import annotations

import hashlib
import random
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from esp32_mock_bootloader.registers import mac_bytes_for_chip

from app.domain.chips import FACTORY_APP_OFFSET, PARTITION_TABLE_OFFSET, ChipType
from app.domain.kinds import ImageKind
from app.domain.records import FlashImage
from app.flashing.board_connection import BoardConnection, ResetMode
from app.flashing.flash_checks import check_chip_matches
from app.flashing.flash_errors import (
    BoardNotFoundError,
    BoardNotRespondingError,
    BoardVanishedError,
    FlashCancelledError,
    FlashTimeoutError,
    WrongChipError,
)
from app.flashing.flash_events import FlashEvent, FlashLog, FlashProgress

from .builders import STANDARD_TABLE, build_app, build_partition_table
from .conftest import MockPeer, free_port


def _images(ief_size: int = 200 * 1024) -> list[FlashImage]:
    noise = random.Random(ief_size).randbytes(ief_size)
    return [
        FlashImage(0x0, ImageKind.BOOTLOADER, "bootloader", build_app(bytes(range(256)) * 64)),
        FlashImage(
            PARTITION_TABLE_OFFSET,
            ImageKind.PARTITION_TABLE,
            "partition-table",
            build_partition_table(STANDARD_TABLE),
        ),
        FlashImage(FACTORY_APP_OFFSET, ImageKind.IEF, "ief", build_app(noise)),
    ]


def _connect(peer: MockPeer, events: list[FlashEvent]) -> BoardConnection:
    return BoardConnection.open(peer.url, reset=ResetMode.NO_RESET, sink=events.append)


def test_identify_reports_chip_mac_and_security(mock_c3: MockPeer) -> None:
    events: list[FlashEvent] = []
    with _connect(mock_c3, events) as board:
        identity = board.identify()
    assert identity.chip is ChipType.ESP32C3
    assert identity.name == "ESP32-C3"
    assert identity.mac == ":".join(f"{b:02x}" for b in mac_bytes_for_chip("esp32c3"))
    assert identity.security is not None
    assert identity.security.secure_boot_enabled is False
    assert identity.security.flash_encryption_enabled is False
    assert identity.security.key_digests == ()
    assert any(isinstance(e, FlashLog) and "ESP32-C3" in e.text for e in events)


def test_write_three_images_verified_with_progress(mock_c3: MockPeer) -> None:
    images = _images()
    events: list[FlashEvent] = []
    with _connect(mock_c3, events) as board:
        board.run_stub()
        assert board.is_stub
        board.change_baud(921600)
        result = board.write_images(images)
        readback = [board.flash_md5(image.offset, len(image.data)) for image in images]
        board.hard_reset()
    assert result.verified == (True, True, True)
    assert readback == [hashlib.md5(i.data, usedforsecurity=False).hexdigest() for i in images]
    progress = [e for e in events if isinstance(e, FlashProgress)]
    total = sum(len(i.data) for i in images)
    assert all(p.overall_total == total for p in progress)
    overall = [p.overall_done for p in progress]
    assert overall == sorted(overall)
    assert overall[-1] == total
    for index, image in enumerate(images):
        last = [p for p in progress if p.index == index][-1]
        assert (last.image_done, last.image_total, last.offset) == (
            len(image.data),
            len(image.data),
            image.offset,
        )
    assert len([p for p in progress if p.index == 2]) > 5  # per 16 KiB block, not just start and end
    assert sum(1 for e in events if isinstance(e, FlashLog) and e.text == "Hash of data verified.") == 3


def test_wrong_chip_is_refused_before_writing(mock_s3: MockPeer) -> None:
    events: list[FlashEvent] = []
    with _connect(mock_s3, events) as board:
        identity = board.identify()
    assert identity.chip is ChipType.ESP32S3
    with pytest.raises(WrongChipError) as err:
        check_chip_matches(identity.chip, identity.name, ChipType.ESP32C3)
    assert "the board is an ESP32-S3, but the task is for ESP32-C3" in str(err.value)


def test_cancel_stops_between_blocks(mock_c3: MockPeer) -> None:
    events: list[FlashEvent] = []
    calls = 0

    def cancelled() -> bool:
        nonlocal calls
        calls += 1
        return calls >= 3

    with _connect(mock_c3, events) as board:
        board.run_stub()
        with pytest.raises(FlashCancelledError, match="cancelled while writing ief at 0x10000"):
            board.write_images(_images()[2:], cancelled=cancelled)
    done = [e.image_done for e in events if isinstance(e, FlashProgress)]
    assert 0 < done[-1] < 200 * 1024


@pytest.mark.slow
def test_board_vanishing_mid_write(mock_c3: MockPeer) -> None:
    events: list[FlashEvent] = []

    def sink(event: FlashEvent) -> None:
        events.append(event)
        if isinstance(event, FlashProgress) and event.image_done >= 64 * 1024:
            mock_c3.stop()

    with _connect(mock_c3, events) as board:
        board.run_stub()
        with pytest.raises((BoardVanishedError, FlashTimeoutError)) as err:
            board.write_images(_images(400 * 1024)[2:], sink=sink)
    assert "writing ief at 0x10000" in str(err.value)
    assert "try again" in str(err.value)


def test_nothing_listening_is_board_not_found() -> None:
    url = f"socket://127.0.0.1:{free_port()}"
    with pytest.raises(BoardNotFoundError) as err:
        BoardConnection.open(url, reset=ResetMode.NO_RESET)
    assert str(err.value).startswith(f"cannot open {url}:")
    assert "no other program" in str(err.value)


def test_unknown_serial_device_is_board_not_found(tmp_path: Path) -> None:
    with pytest.raises(BoardNotFoundError, match="cannot open"):
        BoardConnection.open(str(tmp_path / "ttyUSB9"))


@pytest.fixture
def silent_peer() -> Iterator[str]:
    """A TCP port that accepts and never answers: a port with no board in download mode."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    accepted: list[socket.socket] = []

    stop = threading.Event()
    server.settimeout(0.05)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"socket://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()
        for conn in accepted:
            conn.close()


def test_silent_port_is_board_not_responding(silent_peer: str) -> None:
    with pytest.raises(BoardNotRespondingError) as err:
        BoardConnection.open(silent_peer, reset=ResetMode.NO_RESET, attempts=1)
    assert f"no ESP bootloader answered on {silent_peer}" in str(err.value)
    assert "download mode" in str(err.value)


def test_uart_handed_over_open_at_the_firmware_baud(mock_c3: MockPeer) -> None:
    events: list[FlashEvent] = []
    with _connect(mock_c3, events) as board:
        board.run_stub()
        board.change_baud(921600)
        board.hard_reset()
        uart = board.hand_over_uart()
    try:
        assert uart.is_open  # closing the connection left the handed-over port alone
        assert uart.baudrate == 115200
    finally:
        uart.close()
