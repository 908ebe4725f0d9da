"""The wire: bytes take their time at the baud rate, mismatched rates garble, resets interrupt."""

from __future__ import annotations

import threading
import time

import pytest

from app.sim.faults import Faults
from app.sim.uart import Interrupted, Uart, garble


def _collecting(uart: Uart) -> list[bytes]:
    sent: list[bytes] = []
    uart.attach(sent.append)
    return sent


def test_board_output_is_paced_at_its_baud_rate() -> None:
    uart = Uart(Faults(), pacing=True)
    sent = _collecting(uart)
    uart.board_baud = uart.host_baud = 460800
    start = time.perf_counter()
    uart.write(uart.generation, b"x" * 23040)  # 230400 bits: 0.5 s at 460800 baud
    queued = time.perf_counter() - start
    # The writer went on with a driver's buffer (1 KiB) still to cross the wire, as a chip's would.
    assert 0.45 <= queued <= 5.0
    assert not uart.flushed()
    while len(b"".join(sent)) < 23040 and time.perf_counter() - start < 5:
        on_wire = (time.perf_counter() - start) * 46080
        assert len(b"".join(sent)) <= on_wire + 1  # nothing reaches the host before it crossed the wire
        time.sleep(0.001)
    elapsed = time.perf_counter() - start
    assert 0.5 <= elapsed <= 5.0  # never faster than the wire; a busy shared machine may be much slower
    assert b"".join(sent) == b"x" * 23040
    assert uart.tx_bytes == 23040


def test_a_short_line_does_not_hold_up_the_firmware_and_reaches_the_host_at_its_wire_time() -> None:
    uart = Uart(Faults(), pacing=True)
    sent = _collecting(uart)
    uart.board_baud = uart.host_baud = 115200
    line = b"I (123) boot: a line of a boot log, about sixty bytes long.\r\n"  # 5.4 ms on the wire
    start = time.perf_counter()
    uart.write(uart.generation, line)
    assert sent == []  # the firmware went on before the line crossed the wire (it used to wait)
    deadline = start + 5
    while b"".join(sent) != line and time.perf_counter() < deadline:
        time.sleep(0.001)
    assert b"".join(sent) == line
    assert time.perf_counter() - start >= len(line) * 10 / 115200  # its last byte, not before its time


def test_host_input_arrives_at_the_hosts_baud_rate() -> None:
    uart = Uart(Faults(), pacing=True)
    uart.host_baud = 115200
    start = time.perf_counter()
    uart.host_data(b"y" * 2880)  # 28800 bits: 0.25 s at 115200 baud
    got = b""
    while len(got) < 2880:
        got += uart.read(uart.generation, 4096, 1.0)
    elapsed = time.perf_counter() - start
    assert got == b"y" * 2880
    assert 0.24 <= elapsed <= 5.0  # never faster than the wire


def test_host_input_becomes_readable_in_whole_pieces_never_early() -> None:
    uart = Uart(Faults(), pacing=True)
    uart.host_baud = 115200  # 11520 bytes/s: pieces of 64 bytes (the minimum), 5.6 ms each
    start = time.monotonic()
    uart.host_data(bytes(range(200)) * 10)
    seen = 0
    while seen < 2000:
        chunk = uart.read(uart.generation, 4096, 1.0)
        on_wire = (time.monotonic() - start) * 11520
        seen += len(chunk)
        assert seen <= on_wire + 1  # nothing readable before its last byte has crossed the wire
        assert seen % 64 == 0 or seen == 2000  # pieces, not single bytes
    assert uart.pending() == 0


def test_a_frame_read_returns_with_the_piece_holding_its_end_byte() -> None:
    uart = Uart(Faults(), pacing=True)
    uart.host_baud = 115200
    frame = b"\xc0" + b"a" * 100 + b"\xc0"  # ends at byte 101: inside the second 64-byte piece
    start = time.monotonic()
    uart.host_data(frame + b"b" * 500)  # more behind it, in the same chunk
    got = uart.read(uart.generation, 4096, 2.0, until=0xC0)
    assert got[:1] == b"\xc0"  # the first end byte is a piece's first byte: that piece is all there is
    got += uart.read(uart.generation, 4096, 2.0, until=0xC0)
    elapsed = time.monotonic() - start
    assert got[: len(frame)] == frame
    assert len(got) == 128  # two whole pieces, the second holding the closing byte
    assert elapsed >= 128 / 11520 * 0.99
    rest = b""
    while len(got) + len(rest) < len(frame) + 500:
        rest += uart.read(uart.generation, 4096, 1.0, until=0xC0)  # no end byte left: max_bytes or wire
    assert got + rest == frame + b"b" * 500


def test_without_pacing_everything_is_immediate() -> None:
    uart = Uart(Faults(), pacing=False)
    sent = _collecting(uart)
    start = time.perf_counter()
    uart.write(uart.generation, b"z" * 100_000)
    uart.host_data(b"w" * 100_000)
    assert uart.read(uart.generation, 200_000, 0.1) == b"w" * 100_000
    assert time.perf_counter() - start < 0.2
    assert len(b"".join(sent)) == 100_000


def test_mismatched_baud_rates_garble_both_ways() -> None:
    uart = Uart(Faults(), pacing=False)
    sent = _collecting(uart)
    uart.board_baud = 115200
    uart.host_baud = 921600
    uart.write(uart.generation, b"IEF DATA\r\n")
    uart.host_data(b"ql.example\n")
    assert b"".join(sent) == garble(b"IEF DATA\r\n") != b"IEF DATA\r\n"
    assert uart.read(uart.generation, 100, 0.1) == garble(b"ql.example\n")
    assert 0xC0 not in garble(bytes(range(256)))


def test_a_reset_interrupts_a_blocked_read_and_drops_input() -> None:
    uart = Uart(Faults(), pacing=False)
    generation = uart.generation
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            uart.read(generation, 10, None)
        except Interrupted as exc:
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    time.sleep(0.05)
    uart.interrupt(receiving=False)
    thread.join(timeout=1)
    assert errors and isinstance(errors[0], Interrupted)
    uart.host_data(b"lost while in reset")
    uart.interrupt(receiving=True)
    assert uart.read(uart.generation, 100, 0.05) == b""
    with pytest.raises(Interrupted):
        uart.write(generation, b"from an old run")


def test_nobody_listening_loses_output() -> None:
    uart = Uart(Faults(), pacing=False)
    uart.write(uart.generation, b"into the void")
    assert uart.tx_bytes == len(b"into the void")


@pytest.mark.parametrize(("host_baud", "garbled"), [(460800, False), (921600, False), (2000000, True)])
def test_a_bridge_garbles_above_its_limit_even_when_both_ends_agree(host_baud: int, garbled: bool) -> None:
    uart = Uart(Faults(max_baud=921600), pacing=False)
    sent = _collecting(uart)
    uart.board_baud = uart.host_baud = host_baud
    uart.write(uart.generation, b"\x01\x02 response")
    uart.host_data(b"command")
    expected_out = garble(b"\x01\x02 response") if garbled else b"\x01\x02 response"
    expected_in = garble(b"command") if garbled else b"command"
    assert b"".join(sent) == expected_out
    assert uart.read(uart.generation, 100, 0.1) == expected_in
