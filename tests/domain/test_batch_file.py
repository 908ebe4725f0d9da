from __future__ import annotations

import json
import secrets

import pytest

from app.domain.batch_file import MAX_PROBLEMS_LISTED, BatchFileError, parse_batch_file


def ids(n: int) -> list[str]:
    return [secrets.token_hex(32) for _ in range(n)]


def rejected(data: bytes) -> BatchFileError:
    with pytest.raises(BatchFileError) as err:
        parse_batch_file(data, "devices.json")
    return err.value


def test_good_file_keeps_order_duplicates_and_lowercases() -> None:
    devices = ids(3)
    raw = json.dumps({"devices": [devices[0].upper(), devices[1], devices[2], devices[1]]}).encode()
    assert parse_batch_file(raw) == [devices[0], devices[1], devices[2], devices[1]]


def test_utf8_bom_is_accepted() -> None:
    devices = ids(1)
    assert parse_batch_file(b"\xef\xbb\xbf" + json.dumps({"devices": devices}).encode()) == devices


def test_every_bad_entry_is_listed_with_line_and_index() -> None:
    good = ids(2)
    lines = ["{", '  "devices": [', f'    "{good[0]}",', '    "zz",', f'    "{good[1]}",', "    null,"]
    lines += [f'    "{good[1]}0"', "  ]", "}"]
    text = "\n".join(lines)
    error = rejected(text.encode())
    assert [(p.line, p.index) for p in error.problems] == [(4, 1), (6, 3), (7, 4)]
    assert "'z' at position 1" in error.problems[0].reason
    assert "found null" in error.problems[1].reason
    assert "this one has 65" in error.problems[2].reason
    assert str(error).startswith("devices.json: rejected, nothing was imported (3 problem(s))")


def test_line_numbers_survive_strings_with_brackets_and_commas() -> None:
    text = '{"note": "a [tricky], \\"one\\"",\n "devices": ["x,]",\n "' + ids(1)[0] + '"]}'
    error = rejected(text.encode())
    assert [(p.line, p.index) for p in error.problems] == [(2, 0)]


def test_many_problems_are_capped_but_counted() -> None:
    error = rejected(json.dumps({"devices": ["bad"] * (MAX_PROBLEMS_LISTED + 7)}).encode())
    assert len(error.problems) == MAX_PROBLEMS_LISTED
    assert error.total_problems == MAX_PROBLEMS_LISTED + 7
    assert "... and 7 more" in str(error)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe{}", "not UTF-8 text (byte 0)"),
        (b'{"devices": [', "not valid JSON"),
        (b"[]", 'expected an object {"devices": [...]}, found a list'),
        (b'{"ids": []}', 'the object has no "devices" list'),
        (b'{"devices": "abc"}', '"devices" must be a list, found a string'),
        (b'{"devices": []}', '"devices" is empty'),
    ],
)
def test_malformed_files(data: bytes, reason: str) -> None:
    assert reason in str(rejected(data))


def test_json_error_names_its_line() -> None:
    error = rejected(b'{\n"devices": [\n"a",,\n]}')
    assert error.problems[0].line == 3
