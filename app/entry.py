"""The composition root: `ql-station` and `python -m app` start here.

It is the one module allowed to reach both the headless CLI and the Qt UI, so that nothing below
`app/workers` ever imports Qt: the GUI is imported only when the person asks for the window.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["port-worker"]:
        # One of many children of the supervisor: import only the worker, so esptool's logger is ours
        # before esptool loads and 32 children do not each import the CLI and the simulator.
        from app.provisioning.port_worker import main as worker_main

        return worker_main()
    if args_list[:1] == ["worker-fork-server"]:
        # The station's warm parent of port workers (Linux): imports the worker once, forks per board.
        from app.provisioning.fork_server import main as fork_server_main

        return fork_server_main(args_list[1:])
    if args_list[:1] == ["demo-simulator-watch"]:
        # The frozen bundle's way to start the demo simulator's watchdog (no `python -m` there).
        from app.workers.demo_simulator import main as watch_main

        return watch_main(["watch", *args_list[1:]])
    from app.cli.main import build_parser, run
    from app.system.paths import resolve_data_dir

    args = build_parser().parse_args(args_list)
    if args.command in (None, "gui"):
        from app.ui.application import run_gui

        return run_gui(
            data_dir=resolve_data_dir(args.data_dir),
            demo=bool(getattr(args, "demo", False)),
            actor=args.actor,
        )
    return run(args_list)


def gui_main(argv: Sequence[str] | None = None) -> int:
    """The frozen windowed executable: the same program, started with no console.

    A windowed Windows program has `sys.stdout` and `sys.stderr` set to None, so the first print
    (argparse's usage, a log line) would raise; they go to the null device instead.
    """
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - for the process
    return main(argv)
