"""Run CLI commands in-process against a real data folder (real SQLite, real crypto)."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.cli.main import run


@dataclass
class Result:
    code: int
    out: str
    err: str


Cli = Callable[..., Result]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "station"


@pytest.fixture
def cli(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    def invoke(*argv: str, stdin: str = "") -> Result:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        out, err = io.StringIO(), io.StringIO()
        code = run(["--data-dir", str(data_dir), *argv], out=out, err=err)
        return Result(code, out.getvalue(), err.getvalue())

    return invoke


from tests.server.conftest import serve, serving  # noqa: E402, F401 - a served instance for login tests
