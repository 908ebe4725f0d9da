"""`ql-station port-worker`: the per-port child process the station starts. Not for people to type.

It reads its job on stdin and writes JSON events on stdout (see app/provisioning/port_worker.py). It is a
subcommand of the one program, so the frozen executable can start it exactly as `python -m app` does.
"""

from __future__ import annotations

import argparse

from app.cli.context import CliContext


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "port-worker",
        description="Internal: provision one board from a job read on stdin; events as JSON lines on stdout.",
    )
    parser.set_defaults(handler=port_worker_command)


def port_worker_command(ctx: CliContext, args: argparse.Namespace) -> int:
    from app.provisioning.port_worker import main

    return main()
