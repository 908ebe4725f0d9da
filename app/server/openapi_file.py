"""`python -m app.server.openapi_file [PATH]`: write the API's OpenAPI document (default docs/openapi.json).

The committed copy is what people and other stations read without running a server; a test fails when
it differs from what the server serves, and this command brings it up to date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from app.server.http_api import create_app

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def render() -> str:
    """The document as committed: sorted keys, two-space indent, a final newline."""
    return json.dumps(create_app(None).openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DEFAULT_PATH
    path.write_text(render(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
