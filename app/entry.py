"""The composition root: `ql-station` and `python -m app` start here.

It is the one module allowed to reach both the headless CLI and the Qt UI, so that nothing below
`app/workers` ever imports Qt: the GUI is imported only when the person asks for the window.

Opening the window does not import the CLI either: its command modules bring FastAPI (serve) and esptool
(board), about as long again as the window's own imports, so `window_arguments` reads the few
options the window takes and everything else goes to the full CLI parser.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

# The CLI's global options (app/cli/main.py) that the window honours; tests/test_entry_points.py keeps
# the two lists in step.
WINDOW_GLOBAL_OPTIONS = ("--data-dir", "--passphrase-file", "--user")


class _NotForTheWindow(Exception):
    """Not a plain window start: the full CLI parser decides (and reports any error)."""


class _WindowParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _NotForTheWindow(message)


def window_arguments(args_list: Sequence[str]) -> argparse.Namespace | None:
    """The window's arguments when `args_list` asks for the window (no command, or `gui [--demo]`),
    else None: a command, help, --version, a mistake or text that is not UTF-8 go to the CLI."""
    parser = _WindowParser(prog="ql-station", add_help=False)
    parser.add_argument("--data-dir")
    parser.add_argument("--passphrase-file")
    parser.add_argument("--user", dest="actor")
    parser.add_argument("command", nargs="?")
    parser.add_argument("--demo", action="store_true")
    try:
        for text in args_list:
            text.encode("utf-8")
        args, rest = parser.parse_known_args(list(args_list))
    except (_NotForTheWindow, UnicodeEncodeError):
        return None
    if rest or args.command not in (None, "gui") or (args.demo and args.command is None):
        return None
    return args


def restore_library_path(environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Give programs this one starts the person's own LD_LIBRARY_PATH back (frozen bundle, Linux).

    The bundle's loader puts its own folder first in LD_LIBRARY_PATH (keeping the old value in
    LD_LIBRARY_PATH_ORIG) before Python starts; this process has already used it. Left in place, an
    outside program started from here (the file manager behind "Open folder") would load the bundle's
    copies of system libraries. The station's own children are the bundle's executables, whose loader
    sets the path again for them.
    """
    if "LD_LIBRARY_PATH_ORIG" in environ:
        environ["LD_LIBRARY_PATH"] = environ.pop("LD_LIBRARY_PATH_ORIG")
    else:
        environ.pop("LD_LIBRARY_PATH", None)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if getattr(sys, "frozen", False) and sys.platform.startswith("linux"):
        restore_library_path()
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
    from app.system.paths import resolve_data_dir

    window = window_arguments(args_list)
    if window is not None:
        from app.ui.application import run_gui

        return run_gui(data_dir=resolve_data_dir(window.data_dir), demo=window.demo, actor=window.actor)
    from app.cli.main import build_parser, commands_needed, run

    args = build_parser(commands_needed(args_list)).parse_args(args_list)
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
