"""Walk a paginated listing to its end (or a limit) with one call per page, never per row."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from app.domain.records import MAX_PAGE_SIZE, Page, PageRequest

T = TypeVar("T")


def iterate_pages(
    fetch: Callable[[PageRequest], Page[T]], *, search: str = "", offset: int = 0, limit: int | None = None
) -> Iterator[T]:
    """Yield items from `offset`, at most `limit` of them (all when None)."""
    remaining = limit
    while remaining is None or remaining > 0:
        size = MAX_PAGE_SIZE if remaining is None else min(remaining, MAX_PAGE_SIZE)
        page = fetch(PageRequest(offset=offset, limit=size, search=search))
        yield from page.items
        offset += len(page.items)
        if remaining is not None:
            remaining -= len(page.items)
        if not page.has_more or not page.items:
            return
