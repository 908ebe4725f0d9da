"""Hypothesis profiles for the fuzz suite and the count `make fuzz` prints.

`short` (the default) keeps the suite to seconds in `make test`; `QL_FUZZ_PROFILE=long` (what `make fuzz`
sets) runs enough examples that the whole suite tries well over 100,000 cases. Deadlines are off in both:
a shared CI machine must not turn a slow example into a failure (cases.py catches real hangs).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from .cases import CASES

PROFILE_ENV = "QL_FUZZ_PROFILE"
_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
}
settings.register_profile("short", max_examples=200, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("long", max_examples=7_000, **_COMMON)  # type: ignore[arg-type]
settings.load_profile(os.environ.get(PROFILE_ENV, "short"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not CASES:
        return
    crashes = [
        report.nodeid for report in terminalreporter.stats.get("failed", []) if "tests/fuzz/" in report.nodeid
    ]
    terminalreporter.section(f"fuzz ({settings.get_current_profile_name()} profile)")
    for suite, count in sorted(CASES.items()):
        terminalreporter.write_line(f"{suite:<28} {count:>9,} cases")
    terminalreporter.write_line(f"{'total':<28} {sum(CASES.values()):>9,} cases, {len(crashes)} crash(es)")
    for nodeid in crashes:
        terminalreporter.write_line(f"  crash: {nodeid}")
