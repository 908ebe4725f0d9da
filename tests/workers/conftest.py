"""Worker tests fail if a background call outlives its test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QThreadPool


@pytest.fixture(autouse=True)
def no_leaked_threads(qapp: Any) -> Iterator[None]:
    yield
    assert QThreadPool.globalInstance().waitForDone(20_000), "a background call outlived its test"
