"""Counts read as a person writes them."""

from __future__ import annotations

from app.ui.models.formatting import plural


def test_plural_agrees_with_the_count() -> None:
    assert plural(1, "batch") == "1 batch"
    assert plural(0, "batch") == "0 batches"
    assert plural(2, "device") == "2 devices"
    assert plural(1_000, "task") == "1,000 tasks"
    assert plural(1, "entry", "entries") == "1 entry"
    assert plural(3, "entry", "entries") == "3 entries"
