"""The helpers' session group is lowered once, and only where Linux has autogroup scheduling."""

from __future__ import annotations

from pathlib import Path

from app.system.session_priority import group_niceness, lower_session_group


def test_the_group_gets_half_the_workers_niceness_and_never_more_priority() -> None:
    assert [group_niceness(n) for n in (0, 1, 5, 10, 19)] == [0, 1, 3, 5, 10]


def test_the_niceness_is_written_where_the_kernel_keeps_it(tmp_path: Path) -> None:
    autogroup = tmp_path / "autogroup"
    autogroup.write_text("/autogroup-7 nice 0\n")
    assert lower_session_group(5, autogroup)
    assert autogroup.read_text() == "5\n"


def test_nothing_is_written_without_autogroup_or_without_niceness(tmp_path: Path) -> None:
    assert not lower_session_group(5, tmp_path / "missing")
    present = tmp_path / "autogroup"
    present.write_text("/autogroup-7 nice 0\n")
    assert not lower_session_group(0, present)
    assert present.read_text() == "/autogroup-7 nice 0\n"


def test_a_refusal_is_not_an_error(tmp_path: Path) -> None:
    """A read-only place (as /proc is for a value the kernel refuses) reads as "not lowered"."""
    assert not lower_session_group(5, tmp_path)  # a directory: writing fails with an OSError
