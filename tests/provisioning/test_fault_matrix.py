"""The short profile of the fault matrix (tests/provisioning/fault_matrix.py): one cell per kind of fault.

`make fault-matrix` runs every step x fault with more trials; this keeps the promises checked on every
`make test`: no crash, no lost DeviceID, no record that disagrees with the journal and the batch, and
a retry that passes once the fault is gone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .fault_matrix import Cell, prepare_station, run_cell, short_matrix


@pytest.fixture(scope="module")
def matrix_station(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return prepare_station(tmp_path_factory.mktemp("matrix-station"))


@pytest.mark.slow
@pytest.mark.parametrize("cell", short_matrix(), ids=lambda c: c.name.replace(" ", ""))
def test_fault_matrix_short_profile(matrix_station, cell: Cell, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cell(matrix_station, cell, trials=1, work=tmp_path / "cell")
    assert result.clean, (result, result.notes)
    assert result.correct == result.trials
