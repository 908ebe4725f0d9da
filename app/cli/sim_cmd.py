"""`ql-station sim`: serve virtual ESP32 boards on loopback until stopped.

Prints one pyserial URL per line on stdout (and flushes), so a script can read them; everything meant
for a person goes to stderr. The boards are registered in the data folder's simulator registry so port
discovery lists them, and unregistered on exit (SIGINT or SIGTERM).

The simulated access point's password is a secret: it is read from a file (`--ap-password-file`) or, when
none is given, generated and written to `<state-dir>/access-point-password` (readable by the owner only);
it is never printed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from app.cli.context import CliContext
from app.domain.chips import ChipType
from app.domain.errors import ValidationError
from app.sim.faults import BootFailure, Faults
from app.sim.fleet import MAX_BOARDS, SimFleet, default_access_point
from app.sim.run_context import AccessPoint
from app.system.session_priority import group_niceness, lower_session_group, session_leader

AP_PASSWORD_FILENAME = "access-point-password"  # noqa: S105 - a file name, not a password


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sim",
        help="serve virtual ESP32 boards on loopback (demos, training, tests)",
        description="Serve virtual boards as rfc2217:// URLs, one per line on stdout, until stopped.",
    )
    parser.add_argument(
        "--boards", type=int, default=1, metavar="N", help=f"number of boards, 1-{MAX_BOARDS}"
    )
    parser.add_argument(
        "--chip", default="esp32c3", help="esp32, esp32c3, esp32s2 or esp32s3 (default esp32c3)"
    )
    parser.add_argument(
        "--no-pacing", action="store_true", help="send bytes at once instead of at the baud rate"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="where boards keep flash and eFuses (default: the data folder's sim/ folder)",
    )
    parser.add_argument("--ap-ssid", metavar="SSID", help="SSID of the simulated WiFi network")
    parser.add_argument(
        "--ap-password-file",
        type=Path,
        metavar="PATH",
        help="file holding the simulated network's password (default: generate one)",
    )
    parser.add_argument(
        "--boot-failure",
        choices=[f.value for f in BootFailure],
        help="every board fails to start its firmware this way after flashing (boot diagnostics demo)",
    )
    parser.add_argument(
        "--usb-id",
        type=_usb_id,
        metavar="VID:PID",
        help="list the boards behind this USB bridge, e.g. 1a86:7523 (CH340); sets their flashing rate",
    )
    parser.add_argument(
        "--max-baud",
        type=int,
        metavar="RATE",
        help="the bridge garbles every byte above this rate (a slow bridge or a poor cable)",
    )
    parser.set_defaults(handler=run_sim)


def _usb_id(text: str) -> tuple[int, int]:
    try:
        vid, pid = (int(part, 16) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not VID:PID in hex, e.g. 10c4:ea60") from None
    if not (0 <= vid <= 0xFFFF and 0 <= pid <= 0xFFFF):
        raise argparse.ArgumentTypeError(f"{text!r}: a USB VID and PID are 4 hex digits each")
    return vid, pid


def run_sim(ctx: CliContext, args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM."""
    out, err, data_dir = ctx.out, ctx.err, ctx.data_dir
    chip = ChipType.parse(args.chip)
    if not 1 <= args.boards <= MAX_BOARDS:
        raise ValidationError(f"--boards must be between 1 and {MAX_BOARDS}; got {args.boards}")
    state_dir: Path = (args.state_dir or data_dir.sim_boards).expanduser().resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    access_point = _access_point(args, state_dir)
    niceness = os.nice(0) if os.name == "posix" else 0
    if niceness > 0 and session_leader():  # the demo's simulator, started niced in a session of its own
        lower_session_group(group_niceness(niceness))
    stop = threading.Event()
    previous = _install_stop_handlers(stop)
    try:
        with SimFleet(
            state_dir,
            count=args.boards,
            chip=chip,
            pacing=not args.no_pacing,
            access_point=access_point,
            registry=data_dir.sim_registry,
            faults=[_faults(args) for _ in range(args.boards)],
            usb_ids=[args.usb_id] * args.boards,
        ) as fleet:
            for url in fleet.urls:
                out.write(url + "\n")
            out.flush()
            err.write(
                f"{args.boards} virtual {chip.display_name} board(s) ready; simulated WiFi SSID "
                f"'{access_point.ssid}' (password: {_password_source(args, state_dir)}). "
                "Stop with Ctrl+C.\n"
            )
            err.flush()
            while not stop.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass
    finally:
        _restore_handlers(previous)
    return 0


def _faults(args: argparse.Namespace) -> Faults:
    if args.max_baud is not None and args.max_baud <= 0:
        raise ValidationError(f"--max-baud must be a positive rate; got {args.max_baud}")
    failure = BootFailure(args.boot_failure) if args.boot_failure else None
    return Faults(boot_failure=failure, max_baud=args.max_baud)


def _access_point(args: argparse.Namespace, state_dir: Path) -> AccessPoint:
    ssid = args.ap_ssid if args.ap_ssid is not None else default_access_point().ssid
    if not 1 <= len(ssid.encode()) <= 32:
        raise ValidationError(f"--ap-ssid must be 1 to 32 bytes; {ssid!r} is {len(ssid.encode())}")
    if args.ap_password_file is not None:
        try:
            password = args.ap_password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ValidationError(
                f"cannot read --ap-password-file {args.ap_password_file}: {exc.strerror}"
            ) from None
    else:
        password = secrets.token_urlsafe(12)
        path = state_dir / AP_PASSWORD_FILENAME
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(password + "\n")
    if password and not 8 <= len(password) <= 63:
        raise ValidationError("the access point password must be 8 to 63 characters (WPA2), or empty")
    return AccessPoint(ssid=ssid, password=password)


def _password_source(args: argparse.Namespace, state_dir: Path) -> str:
    if args.ap_password_file is not None:
        return f"from {args.ap_password_file}"
    return f"in {state_dir / AP_PASSWORD_FILENAME}"


def _install_stop_handlers(stop: threading.Event) -> dict[int, Any]:
    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous  # signals can only be handled on the main thread (e.g. under a test runner)
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, _stop)
    return previous


def _restore_handlers(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def standalone(argv: Sequence[str]) -> int:
    """`python -c 'from app.cli.sim_cmd import standalone; ...'`: the command without the main CLI."""
    from app.domain.errors import StationError
    from app.system.paths import DataDir, resolve_data_dir

    parser = argparse.ArgumentParser(prog="ql-station")
    parser.add_argument("--data-dir")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    ctx = CliContext(data_dir=DataDir(resolve_data_dir(args.data_dir)))
    try:
        return run_sim(ctx, args)
    except StationError as exc:
        ctx.err.write(f"error: {exc}\n")
        return 2
