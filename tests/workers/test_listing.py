"""collect(): a paginated instance listing walked into one list, with a cap."""

from __future__ import annotations

from pathlib import Path

from app.instance.local.instance import LocalInstance
from app.workers.listing import collect


def test_collects_every_page_and_respects_the_cap(tmp_path: Path) -> None:
    with LocalInstance.open(tmp_path / "i.sqlite3") as instance:
        for number in range(25):
            instance.create_batch(f"batch-{number:02d}")
        everything = collect(instance.list_batches)
        assert [b.name for b in everything.items] == [f"batch-{n:02d}" for n in range(25)]
        assert everything.total == 25 and not everything.truncated
        capped = collect(instance.list_batches, cap=10)
        assert len(capped.items) == 10 and capped.total == 25 and capped.truncated
        found = collect(instance.list_batches, search="-1")
        assert [b.name for b in found.items] == [f"batch-1{n}" for n in range(10)]
