"""The monitor's keys: what each does, read from a stream that is not a terminal (a pipe, here a string)."""

from __future__ import annotations

import io
import threading

from app.cli.monitor_keys import apply_key, reading_keys
from app.flashing.serial_monitor import MonitorControl, ResetKind


def test_keys_reset_quit_and_others_do_nothing() -> None:
    control, notes = MonitorControl(), []
    for key in "xr?dR":
        apply_key(key, control, notes.append)
    assert [control.next_reset() for _ in range(4)] == [
        ResetKind.FIRMWARE, ResetKind.DOWNLOAD, ResetKind.FIRMWARE, None,
    ]  # fmt: skip
    assert len(notes) == 3 and not control.stopped
    apply_key("\x1d", control, notes.append)  # Ctrl-]
    assert control.stopped


def test_reading_keys_from_a_pipe_ends_with_it() -> None:
    control = MonitorControl()
    with reading_keys(io.StringIO("dq"), control, lambda _text: None):
        assert control.wait(2.0), "q must stop the monitor"
    assert control.next_reset() is ResetKind.DOWNLOAD
    assert not any(t.name == "monitor-keys" for t in threading.enumerate())
