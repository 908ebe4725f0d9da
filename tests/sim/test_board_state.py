from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.chips import ChipType
from app.domain.errors import ValidationError
from app.sim.board_state import BoardState


def test_identity_is_fixed_at_first_use(tmp_path: Path) -> None:
    first = BoardState(tmp_path / "b", ChipType.ESP32)
    mac = first.identity.mac
    first.close()
    second = BoardState(tmp_path / "b", ChipType.ESP32)
    second.close()
    assert second.identity.mac == mac
    assert mac[:2] == b"\x02\x51" and len(mac) == 6  # locally administered, clearly not a real board


def test_damaged_identity_file_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "board.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"board\.json is not a virtual board identity file"):
        BoardState(folder, ChipType.ESP32)
