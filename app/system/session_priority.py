"""Keeping the station's helper processes below the window's CPU priority on Linux desktops.

The port workers (through the fork server) and the demo's simulator run in a session of their own, so
Ctrl-C in the station's terminal is not their signal. On Linux with autogroup scheduling (the default of
desktop distributions, /proc/sys/kernel/sched_autogroup_enabled), every session is one scheduling group
that gets as much CPU as the window's whole session, whatever the nice value of its processes: nice only
orders the processes inside their group. A 64-board run on 2 cores showed the window's thread waiting,
runnable, 50-250 ms at a time for a CPU while the niced workers ran (benchmarks/gui_stalls.py --detail).
Giving the helpers' session group itself the nice value (/proc/self/autogroup) puts the whole group
below the window, as the nice value was meant to.

Linux only lets an unprivileged process change a group's nice value about ten times a second (across the
machine), so it is done once per helper session, by the session's leader, with a few short retries.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

AUTOGROUP = Path("/proc/self/autogroup")
RETRIES = 5
RETRY_S = 0.11  # the kernel's limit is one change per 100 ms


def group_niceness(niceness: int) -> int:
    """The group's share for processes niced by `niceness`: half of it. On a 2-core machine loaded by
    other sessions, the workers' group at the workers' full niceness (10: a tenth of a session's weight)
    took up to 4x longer for 64 boards; at half (5: a third), the window's stalls were as short and
    the run as quick as before (benchmarks/gui_stalls.py)."""
    return (niceness + 1) // 2


def lower_session_group(niceness: int, autogroup: Path = AUTOGROUP) -> bool:
    """Give this session's scheduling group `niceness`; False where there is no autogroup (not Linux,
    scheduler without it) or the kernel refused. Call it in a session leader, after `setsid`."""
    if niceness <= 0 or not autogroup.exists():
        return False
    for attempt in range(RETRIES):
        try:
            autogroup.write_text(f"{niceness}\n")
            return True
        except OSError as error:
            if error.errno != errno.EAGAIN or attempt == RETRIES - 1:
                return False
            time.sleep(RETRY_S)
    return False


def session_leader() -> bool:
    return os.name == "posix" and os.getsid(0) == os.getpid()
