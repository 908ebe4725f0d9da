"""The batch JSON file format: `{"devices": ["<64 hex>", ...]}`.

A file is accepted whole or rejected whole: every problem is listed with its index and line, and
nothing of a bad file reaches an instance. The fast path (json + one regex per ID) handles a million
IDs in well under a second; line numbers are worked out only when there is something to report.

The file comes from anywhere, so the decoder is made safe for hostile JSON: integers stay text (a
5000-digit number would hit the interpreter's int conversion limit, and no DeviceID is a number),
NaN/Infinity are not JSON, a key given twice is refused (which "devices" did the author mean?), and
nesting past what any batch file needs is refused before the interpreter's recursion limit is reached.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from app.domain.device_id import DeviceID, device_id_problem
from app.domain.errors import ValidationError

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
MAX_PROBLEMS_LISTED = 50


@dataclass(frozen=True)
class FileProblem:
    """One thing wrong with a batch file. `index` is the 0-based position in the devices list, if any; the
    text counts from 1, as a person reading the file does."""

    reason: str
    line: int | None = None
    index: int | None = None

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.index is not None:
            where.append(f"device #{self.index + 1}")  # people count from 1
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


class BatchFileError(ValidationError):
    """The file was rejected as a whole; `problems` lists every reason found (capped for display)."""

    def __init__(self, source: str, problems: list[FileProblem], total_problems: int | None = None):
        self.source = source
        self.problems = problems
        self.total_problems = total_problems if total_problems is not None else len(problems)
        lines = [f"{source}: rejected, nothing was imported ({self.total_problems} problem(s))"]
        lines += [f"  {p}" for p in problems]
        if self.total_problems > len(problems):
            lines.append(f"  ... and {self.total_problems - len(problems)} more")
        super().__init__("\n".join(lines))


def parse_batch_file(data: bytes, source: str = "batch file") -> list[DeviceID]:
    """Parse and validate a whole batch file; return canonical IDs in file order (duplicates kept).

    Duplicates are not an error here: the instance reports them when the IDs are added.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BatchFileError(source, [FileProblem(f"not UTF-8 text (byte {exc.start})")]) from None
    document = _decode(text, source)
    if not isinstance(document, dict):
        raise BatchFileError(
            source, [FileProblem(f'expected an object {{"devices": [...]}}, found {_json_type(document)}')]
        )
    if "devices" not in document:
        raise BatchFileError(source, [FileProblem('the object has no "devices" list')])
    devices = document["devices"]
    if not isinstance(devices, list):
        raise BatchFileError(source, [FileProblem(f'"devices" must be a list, found {_json_type(devices)}')])
    if not devices:
        raise BatchFileError(source, [FileProblem('"devices" is empty: there is nothing to import')])

    fullmatch = _HEX64.fullmatch
    bad = [i for i, item in enumerate(devices) if not (isinstance(item, str) and fullmatch(item))]
    if bad:
        lines = _element_lines(text, len(devices))
        problems = [
            FileProblem(
                _item_problem(devices[i]),
                line=lines[i] if lines is not None else None,
                index=i,
            )
            for i in bad[:MAX_PROBLEMS_LISTED]
        ]
        raise BatchFileError(source, problems, total_problems=len(bad))
    return [DeviceID(item.lower()) for item in devices]


class _JsonNumber:
    """A JSON number kept as its text: never converted, so no size of number can fail to convert.

    Not a `str`, so a 64-digit number can never pass for a DeviceID.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _DuplicateKeyError(Exception):
    def __init__(self, key: str, count: int) -> None:
        super().__init__(key)
        self.key = key
        self.count = count


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    document = dict(pairs)
    if len(document) != len(pairs):
        keys = [key for key, _ in pairs]
        key = next(k for k in keys if keys.count(k) > 1)
        raise _DuplicateKeyError(key, keys.count(key))
    return document


def _not_json(constant: str) -> object:
    raise json.JSONDecodeError(f"{constant} is not a JSON value", constant, 0)


_DECODER = json.JSONDecoder(
    parse_int=_JsonNumber,
    parse_float=_JsonNumber,
    parse_constant=_not_json,
    object_pairs_hook=_unique_keys,
)


def _decode(text: str, source: str) -> object:
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise BatchFileError(source, [FileProblem(f"not valid JSON: {exc.msg}", line=exc.lineno)]) from None
    except _DuplicateKeyError as exc:
        problem = f'the key "{exc.key}" appears {exc.count} times in one object; give it once'
        raise BatchFileError(source, [FileProblem(problem)]) from None
    except RecursionError:
        problem = "lists and objects are nested too deeply to read; a batch file needs 2 levels"
        raise BatchFileError(source, [FileProblem(problem)]) from None


def _item_problem(item: object) -> str:
    if isinstance(item, str):
        return device_id_problem(item.strip()) if item.strip() != item else device_id_problem(item)
    return f"expected a DeviceID string, found {_json_type(item)}"


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


_DEVICES_KEY = re.compile(r'"devices"\s*:\s*\[')


def _element_lines(text: str, count: int) -> list[int] | None:
    """Line number of each element of the devices list, or None if it cannot be located.

    Only called on the error path. Walks the array with the JSON decoder itself, so strings that
    contain brackets or commas cannot confuse it.
    """
    match = _DEVICES_KEY.search(text)
    if match is None:
        return None
    pos = match.end()
    line = text.count("\n", 0, pos) + 1
    lines: list[int] = []
    ws = re.compile(r"[\s,]*")
    for _ in range(count):
        skip = ws.match(text, pos)
        assert skip is not None
        line += text.count("\n", pos, skip.end())
        pos = skip.end()
        lines.append(line)
        try:
            _, end = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError:
            return None
        line += text.count("\n", pos, end)
        pos = end
    return lines
