"""Walking a paginated listing: one call per page, never per row.

Every listing in the station is paginated (the remote instance pays per request), and the CLI, the GUI
workers and the records export all need "from here, up to so many, to the end": this is that loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from app.domain.errors import ValidationError
from app.domain.records import MAX_OFFSET, MAX_PAGE_SIZE, Page, PageRequest, shown_int

T = TypeVar("T")


def walk_pages(
    fetch: Callable[[PageRequest], Page[T]], *, search: str = "", offset: int = 0, limit: int | None = None
) -> Iterator[Page[T]]:
    """Yield pages from `offset` until the listing ends or `limit` items (all when None) were fetched."""
    remaining = limit
    while remaining is None or remaining > 0:
        size = MAX_PAGE_SIZE if remaining is None else min(remaining, MAX_PAGE_SIZE)
        page = fetch(PageRequest(offset=offset, limit=size, search=search))
        yield page
        offset += len(page.items)
        if remaining is not None:
            remaining -= len(page.items)
        if not page.has_more or not page.items:
            return


def iterate_pages(
    fetch: Callable[[PageRequest], Page[T]], *, search: str = "", offset: int = 0, limit: int | None = None
) -> Iterator[T]:
    """The items of `walk_pages`, one by one."""
    for page in walk_pages(fetch, search=search, offset=offset, limit=limit):
        yield from page.items


def check_count(value: int, option: str, low: int = 0, high: int = MAX_OFFSET) -> int:
    """An offset or a limit a person gave: within `low..high`, else an error naming the option.

    The default range is every offset a listing can have (`MAX_OFFSET`), so a number past SQLite's
    64-bit integers is refused here, by name, instead of overflowing inside a query.
    """
    if not low <= value <= high:
        raise ValidationError(f"{option} must be {low:,} to {high:,}; got {shown_int(value)}")
    return value
