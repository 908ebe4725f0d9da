"""The CLI's table of command words (app/cli/main.py `COMMAND_MODULES`): a command imports only its own
module, so the table must name, for every word a module registers, that module; and what a command
leaves out of the import must really stay out (FastAPI, esptool)."""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli.main import COMMAND_MODULES, build_parser, commands_needed

ROOT = Path(__file__).resolve().parents[2]


def _words(parser: argparse.ArgumentParser) -> list[str]:
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return list(subparsers[0].choices)


@pytest.mark.parametrize("module_name", sorted(set(COMMAND_MODULES.values())))
def test_each_word_a_module_registers_is_in_the_table_under_that_module(module_name: str) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    importlib.import_module(module_name).register(sub)
    registered = _words(parser)
    assert registered
    assert {word: COMMAND_MODULES.get(word) for word in registered} == dict.fromkeys(registered, module_name)


def test_the_whole_parser_offers_exactly_the_table_and_gui() -> None:
    assert sorted(_words(build_parser())) == sorted([*COMMAND_MODULES, "gui"])


@pytest.mark.parametrize(
    ("argv", "needed"),
    [
        (["batch", "list"], ("batch",)),
        (["--data-dir", "/d", "--user", "ann", "task", "show", "t"], ("task",)),
        (["--data-dir=/d", "logout"], ("logout",)),
        (["--version"], ()),
        (["gui", "--demo"], ()),
        ([], None),  # the window, or help: the whole parser
        (["--help"], None),
        (["-h", "batch"], None),
        (["--data", "/d", "batch"], None),  # an abbreviated option: argparse decides
        (["bacth", "list"], None),  # a mistake: the whole parser names the choices
    ],
)
def test_commands_needed(argv: list[str], needed: tuple[str, ...] | None) -> None:
    assert commands_needed(argv) == needed


def test_a_mistyped_command_still_lists_every_choice(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser(commands_needed(["bacth"])).parse_args(["bacth"])
    assert "'serve'" in capsys.readouterr().err


def test_a_batch_command_imports_neither_fastapi_nor_esptool(tmp_path: Path) -> None:
    # The first start of the built-in instance builds the simulation images (esptool's image code);
    # every later command does not.
    first = ["-m", "app", "--data-dir", str(tmp_path / "station"), "batch", "list"]
    subprocess.run([sys.executable, *first], cwd=ROOT, env=dict(os.environ), check=True, timeout=120)
    script = (
        "import sys\n"
        "from app.cli.main import run\n"
        f"code = run(['--data-dir', {str(tmp_path / 'station')!r}, 'batch', 'list'])\n"
        "heavy = ('fastapi', 'uvicorn', 'esptool', 'app.server.http_api', 'app.sim.board')\n"
        "print('loaded:', [name for name in heavy if name in sys.modules])\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout
