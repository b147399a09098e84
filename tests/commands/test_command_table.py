"""The `lightning-csr` command table: every entry runs, it is every command `main` accepts, nothing else is."""

from __future__ import annotations

import ast
import importlib
import sys

import pytest

from lightning_csr.cli import COMMANDS, main
from lightning_csr.run_config import CSRCli
from tests.paths import REPO

PACKAGE = REPO / "lightning_csr"
COMMAND_FOLDERS = (PACKAGE / "commands", PACKAGE / "shapeworld" / "commands")


def command_function(name: str):
    module, function = COMMANDS[name].target.split(":")
    return getattr(importlib.import_module(module), function)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_imports_and_its_help_exits_zero(name, capsys, monkeypatch) -> None:
    function = command_function(name)
    assert (function.__doc__ or "").strip().splitlines()[0] == COMMANDS[name].summary
    monkeypatch.setattr(sys, "argv", ["lightning-csr", *name.split(), "--help"])  # as the console script
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 0
    usage = capsys.readouterr().out.split("\n", 1)[0]
    # the usage line is the command's own (LightningCLI writes `lightning-csr [options] fit`)
    assert usage.startswith("usage: lightning-csr") and usage.split()[1:].count(name.split()[-1]) >= 1, usage


def test_the_table_is_every_command_main_accepts(capsys) -> None:
    main(["--help"])
    listed = [
        line.split("  ")[1].strip() for line in capsys.readouterr().out.splitlines() if line.startswith("  ")
    ]
    assert listed == list(COMMANDS)
    lightning = {
        name
        for name, command in COMMANDS.items()
        if command.target.startswith("lightning_csr.commands.lightning:")
    }
    assert lightning == set(CSRCli.subcommands()) == {"fit", "validate", "test"}
    # every command module's `main` is in the table, and the table names no other `main`
    with_main = {
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for folder in COMMAND_FOLDERS
        for path in folder.glob("*.py")
        if any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in ast.parse(path.read_text()).body)
    }
    in_table = {c.target.split(":")[0] for c in COMMANDS.values() if c.target.endswith(":main")}
    assert with_main == in_table


@pytest.mark.parametrize(
    "argv",
    [["predict"], ["bogus", "--help"], ["shapeworld"], ["shapeworld", "bogus"], ["povid", "--out", "x"]],
)
def test_an_unknown_command_is_one_line_and_exit_2(argv, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1
    assert captured.err.startswith("lightning-csr: error: ") and argv[0] in captured.err


def test_no_arguments_and_group_help_print_the_table(capsys) -> None:
    main([])
    printed = capsys.readouterr().out
    assert all(f"  {name}  " in printed for name in COMMANDS)
    main(["shapeworld", "--help"])
    lines = capsys.readouterr().out
    assert "shapeworld rm-accuracy" in lines and "povid inject" not in lines and "fit" not in lines
