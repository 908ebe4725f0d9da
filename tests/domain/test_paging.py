from __future__ import annotations

from app.domain.paging import iterate_pages, walk_pages
from app.domain.records import MAX_PAGE_SIZE, Page, PageRequest

ROWS = [f"row-{i}" for i in range(2 * MAX_PAGE_SIZE + 5)]


class Listing:
    """A paginated source over a list, counting the requests it answers."""

    def __init__(self) -> None:
        self.requests: list[PageRequest] = []

    def __call__(self, page: PageRequest) -> Page[str]:
        self.requests.append(page)
        rows = [r for r in ROWS if page.search in r]
        return Page(tuple(rows[page.offset : page.offset + page.limit]), len(rows), page.offset)


def test_walks_to_the_end_one_call_per_page() -> None:
    source = Listing()
    assert list(iterate_pages(source)) == ROWS
    assert [r.offset for r in source.requests] == [0, MAX_PAGE_SIZE, 2 * MAX_PAGE_SIZE]


def test_offset_limit_and_search() -> None:
    source = Listing()
    assert list(iterate_pages(source, offset=3, limit=4)) == ROWS[3:7]
    assert [(r.offset, r.limit) for r in source.requests] == [(3, 4)]
    assert list(iterate_pages(Listing(), search="row-1000")) == ["row-1000"] + [
        r for r in ROWS if r.startswith("row-1000") and r != "row-1000"
    ]


def test_limit_zero_fetches_nothing_and_pages_carry_the_total() -> None:
    source = Listing()
    assert list(walk_pages(source, limit=0)) == []
    assert source.requests == []
    assert {page.total for page in walk_pages(Listing())} == {len(ROWS)}
