"""Whether this process is held to file modes: root (CAP_DAC_OVERRIDE) and Windows are not.

Tests that need a read-only folder to refuse writes skip where it would not; CI runs them as a user.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest


def file_modes_enforced() -> bool:
    if os.name != "posix":
        return False
    with tempfile.TemporaryDirectory() as folder:
        locked = Path(folder) / "locked"
        locked.mkdir(mode=0o500)
        try:
            (locked / "probe").touch()
        except PermissionError:
            return True
        finally:
            locked.chmod(0o700)
    return False


needs_file_modes = pytest.mark.skipif(
    not file_modes_enforced(), reason="this process ignores file modes (root or Windows)"
)
