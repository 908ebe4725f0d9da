"""Throughput and the failure Pareto: pure numbers from grouped record counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.provisioning.events import Outcome
from app.provisioning.throughput import (
    OTHER,
    bucket_seconds,
    failure_pareto,
    reason_key,
    throughput,
)

T0 = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
MS = 1000


def _at(hours: float) -> int:
    return int((T0 + timedelta(hours=hours)).timestamp() * MS)


def test_every_hour_of_the_window_is_a_bucket_and_empty_hours_are_zeros() -> None:
    counts = [(_at(2), Outcome.PASS, 40), (_at(2), Outcome.FAIL, 2), (_at(3), Outcome.PASS, 50)]
    result = throughput(counts, T0, T0 + timedelta(hours=6))
    assert [b.boards for b in result.buckets] == [0, 0, 42, 50, 0, 0]
    assert result.buckets[2].start == T0 + timedelta(hours=2)
    assert (result.passed, result.failed, result.cancelled, result.boards) == (90, 2, 0, 92)
    assert result.yield_share == pytest.approx(90 / 92)
    assert result.best_hour is not None and result.best_hour.boards == 50
    # 92 boards from the first active hour (08:00) to the window's end (12:00): 23 an hour
    assert result.per_hour == pytest.approx(23.0)


def test_a_window_that_starts_mid_hour_and_rows_outside_it() -> None:
    since = T0 + timedelta(minutes=30)
    counts = [(_at(0), Outcome.PASS, 3), (_at(5), Outcome.CANCELLED, 1), (_at(-3), Outcome.PASS, 99)]
    result = throughput(counts, since, since + timedelta(hours=2))
    assert [b.start for b in result.buckets] == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert result.boards == 3  # the row from before the window and the one after it are not counted
    assert result.yield_share == 1.0


def test_no_records() -> None:
    result = throughput([], T0, T0 + timedelta(hours=1))
    assert result.boards == 0 and result.yield_share is None and result.per_hour == 0.0
    assert result.best_hour is None


def test_day_buckets_for_a_long_window_and_their_rate() -> None:
    since, until = T0, T0 + timedelta(days=7)
    seconds = bucket_seconds(since, until)
    assert seconds == 86_400 and bucket_seconds(T0, T0 + timedelta(hours=12)) == 3600
    result = throughput([(_at(1), Outcome.PASS, 48)], since, until, seconds)
    assert len(result.buckets) in (7, 8)  # day buckets are UTC days
    assert result.buckets[0].per_hour == pytest.approx(2.0)


def test_bad_windows() -> None:
    with pytest.raises(ValueError, match="end after it starts"):
        throughput([], T0, T0)
    with pytest.raises(ValueError, match="buckets"):
        throughput([], T0, T0 + timedelta(days=365))


def test_reasons_of_the_same_failure_on_different_boards_are_one_key() -> None:
    one = reason_key(
        "DeviceID 3f2a9c0d11223344556677889900aabbccddeeff00112233445566778899aabb belongs to batch "
        "'line-2'; not pushed"
    )
    two = reason_key(
        "DeviceID 00ff9c0d11223344556677889900aabbccddeeff00112233445566778899aabb belongs to batch 'line-2'"
    )
    assert one == two == "DeviceID <id> belongs to batch 'line-2'"
    assert reason_key("no answer on /dev/ttyUSB3 after 15 s") == reason_key("no answer on COM7 after 20 s")
    assert reason_key("board aa:bb:cc:dd:ee:01 vanished") == "board <mac> vanished"
    assert reason_key("") == "no reason given"
    assert len(reason_key("x" * 500)) <= 90


def test_pareto_orders_by_count_with_cumulative_shares() -> None:
    counts = [
        ("boot", "the board printed nothing after reset", 6),
        ("ief", "could not join WiFi 'line' (authentication failed) on /dev/ttyUSB1", 3),
        ("ief", "could not join WiFi 'line' (authentication failed) on /dev/ttyUSB2", 5),
        ("flash", "the board vanished at byte 4096", 2),
    ]
    bars = failure_pareto(counts)
    assert [(b.step, b.count) for b in bars] == [("ief", 8), ("boot", 6), ("flash", 2)]
    assert bars[0].share == pytest.approx(0.5)
    assert [round(b.cumulative, 3) for b in bars] == [0.5, 0.875, 1.0]
    assert bars[0].label.startswith("ief: could not join WiFi")


def test_pareto_folds_the_tail_into_one_bar() -> None:
    counts = [("ief", f"reason {chr(65 + n)}", 10 - n) for n in range(10)]
    bars = failure_pareto(counts, top=4)
    assert len(bars) == 4 and bars[-1].reason == OTHER
    assert bars[-1].count == sum(10 - n for n in range(3, 10))
    assert bars[-1].cumulative == pytest.approx(1.0)
    assert failure_pareto([]) == ()
