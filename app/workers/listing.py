"""Collect a paginated instance listing into one list, on a worker thread.

The Instance protocol never returns a listing whole (the remote case pays per request), so pages that
show every batch, key, task or user walk the pages here, off the GUI thread, up to a cap that keeps a
runaway listing from eating the window's memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from app.domain.paging import walk_pages
from app.domain.records import Page, PageRequest

T = TypeVar("T")

DEFAULT_CAP = 50_000


@dataclass(frozen=True)
class Listing(Generic[T]):
    """Up to `cap` items of a listing; `total` says how many the instance holds."""

    items: tuple[T, ...]
    total: int

    @property
    def truncated(self) -> bool:
        return len(self.items) < self.total


def collect(
    list_page: Callable[[PageRequest], Page[T]], search: str = "", cap: int = DEFAULT_CAP
) -> Listing[T]:
    items: list[T] = []
    total = 0
    for page in walk_pages(list_page, search=search, limit=cap):
        items.extend(page.items)
        total = page.total
    return Listing(items=tuple(items), total=max(total, len(items)))
